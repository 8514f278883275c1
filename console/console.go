// Package console holds the web assets of the inbox console: the app
// shell (index.html) and the scripts, styles and icon under assets/,
// plain HTML, CSS and JavaScript modules with no build step and nothing
// loaded from elsewhere. The webhook_inbox_console handler in module/
// serves them; it imports nothing else from here.
package console

import (
	"embed"
	"io/fs"
)

//go:embed index.html assets
var files embed.FS

// FS returns the console's files: index.html, the shell served for every
// page, whose <base href="./"> the handler adjusts to the page's depth,
// and assets/.
func FS() fs.FS { return files }
