package reencode

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testtool"
)

// reencodeCases are bodies whose re-serialisation differs from the raw
// bytes in Node.js, Python or both, with what each prints ("" where it
// refuses the body). The same
// bodies are run through the real node and python3 in
// TestReencodeBodyMatchesRuntimes.
var reencodeCases = []struct {
	name         string
	body         string
	node, python string
}{
	{
		name:   "seed cost.exceeded",
		body:   `{"event": "cost.exceeded", "data": {"current_cost": 1050.0, "limit": 1000.0, "excess": 50.0}}`,
		node:   `{"event":"cost.exceeded","data":{"current_cost":1050,"limit":1000,"excess":50}}`,
		python: `{"event": "cost.exceeded", "data": {"current_cost": 1050.0, "limit": 1000.0, "excess": 50.0}}`,
	},
	{
		name:   "compact body gains Python's separators",
		body:   `{"a":1,"b":[1,2,{"c":null}]}`,
		node:   `{"a":1,"b":[1,2,{"c":null}]}`,
		python: `{"a": 1, "b": [1, 2, {"c": null}]}`,
	},
	{
		name:   "whitespace everywhere",
		body:   " \n{ \"a\" :\t1 ,\r\n \"b\" : [ 1 , 2 ] , \"c\" : { } , \"d\" : [ ] }\n ",
		node:   `{"a":1,"b":[1,2],"c":{},"d":[]}`,
		python: `{"a": 1, "b": [1, 2], "c": {}, "d": []}`,
	},
	{
		name:   "small numbers",
		body:   `{"a":1e-7,"b":0.000001,"c":0.0000001,"d":0.0001,"e":0.00001,"f":0.000042,"g":2.5e-5,"h":123e-20}`,
		node:   `{"a":1e-7,"b":0.000001,"c":1e-7,"d":0.0001,"e":0.00001,"f":0.000042,"g":0.000025,"h":1.23e-18}`,
		python: `{"a": 1e-07, "b": 1e-06, "c": 1e-07, "d": 0.0001, "e": 1e-05, "f": 4.2e-05, "g": 2.5e-05, "h": 1.23e-18}`,
	},
	{
		name:   "large numbers",
		body:   `{"a":1e21,"b":1e20,"c":1e16,"d":1e15,"e":1E5,"f":1.5e300,"g":1.7976931348623157e308}`,
		node:   `{"a":1e+21,"b":100000000000000000000,"c":10000000000000000,"d":1000000000000000,"e":100000,"f":1.5e+300,"g":1.7976931348623157e+308}`,
		python: `{"a": 1e+21, "b": 1e+20, "c": 1e+16, "d": 1000000000000000.0, "e": 100000.0, "f": 1.5e+300, "g": 1.7976931348623157e+308}`,
	},
	{
		name:   "integers beyond a double",
		body:   `{"a":123456789012345678901234567890,"b":12345678901234567890,"c":9007199254740993,"d":-42,"e":0}`,
		node:   `{"a":1.2345678901234568e+29,"b":12345678901234567000,"c":9007199254740992,"d":-42,"e":0}`,
		python: `{"a": 123456789012345678901234567890, "b": 12345678901234567890, "c": 9007199254740993, "d": -42, "e": 0}`,
	},
	{
		name:   "zeros and extremes",
		body:   `[-0.0,-0,0.0,0.1,5e-324,1e400,-1e400,1e-400,-1e-400,1.0,100,0.30000000000000004]`,
		node:   `[0,0,0,0.1,5e-324,null,null,0,0,1,100,0.30000000000000004]`,
		python: `[-0.0, 0, 0.0, 0.1, 5e-324, Infinity, -Infinity, 0.0, -0.0, 1.0, 100, 0.30000000000000004]`,
	},
	{
		name:   "non-ASCII text",
		body:   `{"name":"Café résumé","emoji":"🚀 😀","cjk":"日本語","escaped":"\u00e9\ud83d\ude00"}`,
		node:   `{"name":"Café résumé","emoji":"🚀 😀","cjk":"日本語","escaped":"é😀"}`,
		python: `{"name": "Caf\u00e9 r\u00e9sum\u00e9", "emoji": "\ud83d\ude80 \ud83d\ude00", "cjk": "\u65e5\u672c\u8a9e", "escaped": "\u00e9\ud83d\ude00"}`,
	},
	{
		name:   "escapes",
		body:   `{"slash":"a\/b/c","quote":"\"","backslash":"\\","ctl":"\b\f\n\r\t\u0000\u001F\u007f","upper":"\u00C9\u2028\u2029"}`,
		node:   "{\"slash\":\"a/b/c\",\"quote\":\"\\\"\",\"backslash\":\"\\\\\",\"ctl\":\"\\b\\f\\n\\r\\t\\u0000\\u001f\x7f\",\"upper\":\"É\u2028\u2029\"}",
		python: `{"slash": "a/b/c", "quote": "\"", "backslash": "\\", "ctl": "\b\f\n\r\t\u0000\u001f\u007f", "upper": "\u00c9\u2028\u2029"}`,
	},
	{
		name:   "lone surrogates",
		body:   `["\ud800","\udc00x","x\ud83d","\ude00\ud83d","\uD83D\uDE00"]`,
		node:   `["\ud800","\udc00x","x\ud83d","\ude00\ud83d","😀"]`,
		python: `["\ud800", "\udc00x", "x\ud83d", "\ude00\ud83d", "\ud83d\ude00"]`,
	},
	{
		name:   "duplicate keys keep the first position and the last value",
		body:   `{"a":1,"b":2,"a":{"x":1,"x":[3]},"c":3,"b":null}`,
		node:   `{"a":{"x":[3]},"b":null,"c":3}`,
		python: `{"a": {"x": [3]}, "b": null, "c": 3}`,
	},
	{
		name:   "escaped and raw spellings of one key are duplicates",
		body:   `{"é":1,"\u00e9":2,"\/":3,"/":4}`,
		node:   `{"é":2,"/":4}`,
		python: `{"\u00e9": 2, "/": 4}`,
	},
	{
		name:   "array-index keys come first in Node.js",
		body:   `{"b":1,"10":2,"2":3,"01":4,"-1":5,"1.5":6,"4294967295":7,"4294967294":8,"0":9,"2":10}`,
		node:   `{"0":9,"2":10,"10":2,"4294967294":8,"b":1,"01":4,"-1":5,"1.5":6,"4294967295":7}`,
		python: `{"b": 1, "10": 2, "2": 10, "01": 4, "-1": 5, "1.5": 6, "4294967295": 7, "4294967294": 8, "0": 9}`,
	},
	{
		name:   "literals and nesting",
		body:   `{"t":true,"f":false,"n":null,"deep":[[[[{"a":[[],{}]}]]]],"empty":{}}`,
		node:   `{"t":true,"f":false,"n":null,"deep":[[[[{"a":[[],{}]}]]]],"empty":{}}`,
		python: `{"t": true, "f": false, "n": null, "deep": [[[[{"a": [[], {}]}]]]], "empty": {}}`,
	},
	{
		name:   "Python's constants for non-finite floats",
		body:   `[Infinity,-Infinity,NaN]`,
		python: `[Infinity, -Infinity, NaN]`,
	},
	{
		name:   "empty object",
		body:   `{}`,
		node:   `{}`,
		python: `{}`,
	},
	{
		name:   "top-level array and scalar",
		body:   ` [ 1.50 , "x" ] `,
		node:   `[1.5,"x"]`,
		python: `[1.5, "x"]`,
	},
	{
		name:   "many keys with duplicates",
		body:   manyKeys(40),
		node:   manyKeysWant(40, false),
		python: manyKeysWant(40, true),
	},
}

// manyKeys has more keys than the linear duplicate search handles, each
// key repeated once with a new value.
func manyKeys(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, `"k%d":%d,`, i, i)
	}
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%d":%d.5`, n-1-i, n-1-i)
	}
	b.WriteString("}")
	return b.String()
}

func manyKeysWant(n int, python bool) string {
	sep, colon := ",", ":"
	if python {
		sep, colon = ", ", ": "
	}
	parts := make([]string, n)
	for i := range n {
		parts[i] = fmt.Sprintf(`"k%d"%s%d.5`, i, colon, i)
	}
	return "{" + strings.Join(parts, sep) + "}"
}

func TestReencodeBody(t *testing.T) {
	for _, tc := range reencodeCases {
		t.Run(tc.name, func(t *testing.T) {
			for _, enc := range []struct{ name, want string }{{Node, tc.node}, {Python, tc.python}} {
				got, err := Body(enc.name, []byte(tc.body))
				if enc.want == "" {
					if err == nil {
						t.Errorf("%s: re-encoded a body it cannot parse: %s", enc.name, got)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", enc.name, err)
				}
				if string(got) != enc.want {
					t.Errorf("%s:\n got %s\nwant %s", enc.name, got, enc.want)
				}
				// The receiver re-serialises what we send: it must come
				// out unchanged, or its check still fails.
				again, err := Body(enc.name, got)
				if err != nil || !bytes.Equal(again, got) {
					t.Errorf("%s: not idempotent: %s -> %s (%v)", enc.name, got, again, err)
				}
			}
			for _, raw := range []string{"", Raw} {
				got, err := Body(raw, []byte(tc.body))
				if err != nil || string(got) != tc.body {
					t.Errorf("%q changed the body: %q, %v", raw, got, err)
				}
			}
		})
	}
}

func TestReencodeBodyErrors(t *testing.T) {
	longInt := strings.Repeat("7", pythonMaxIntDigits+1)
	tests := []struct {
		name     string
		encoding string
		body     string
		reason   string // substring of the error; "" for no error
	}{
		{name: "invalid UTF-8", encoding: Node, body: "{\"a\":\"\xc3(\"}", reason: "not valid UTF-8"},
		{name: "truncated", encoding: Python, body: `{"a":[1,2`, reason: "unexpected end"},
		{name: "trailing data", encoding: Node, body: `{"a":1}{}`, reason: "data after"},
		{name: "bad literal", encoding: Node, body: `{"a":tru}`, reason: "invalid literal"},
		{name: "leading zero", encoding: Python, body: `{"a":01}`, reason: "expected ',' or '}'"},
		{name: "bare dot", encoding: Node, body: `{"a":1.}`, reason: "invalid number"},
		{name: "bad escape", encoding: Node, body: `{"a":"\x"}`, reason: "invalid escape"},
		{name: "short \\u escape", encoding: Python, body: `{"a":"\u12"}`, reason: "invalid \\u escape"},
		{name: "raw control character", encoding: Node, body: "{\"a\":\"\n\"}", reason: "control character"},
		{name: "key not a string", encoding: Node, body: `{a:1}`, reason: "expected a string key"},
		{name: "too deep", encoding: Node, body: strings.Repeat("[", maxReencodeDepth+1), reason: "nested too deeply"},
		{name: "integer too long for Python", encoding: Python, body: `{"n":` + longInt + `}`, reason: "more digits"},
		{name: "the same integer is a double to Node.js", encoding: Node, body: `{"n":` + longInt + `}`},
		{name: "unknown encoding", encoding: "ruby", body: `{}`, reason: "unknown body encoding"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Body(tc.encoding, []byte(tc.body))
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("error %v, want one containing %q", err, tc.reason)
			}
			var encErr *Error
			if tc.encoding != "ruby" && !errors.As(err, &encErr) {
				t.Errorf("error %T is not a *Error", err)
			}
			if strings.Contains(err.Error(), tc.body) && len(tc.body) > 4 {
				t.Errorf("error %q quotes the body", err)
			}
		})
	}
}

// requireTool returns the path of a program the test needs; see
// internal/testtool.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	return testtool.Require(t, name, "the runtime whose re-encoding is checked")
}

// Each script reads the files named on its command line and prints, per
// file, the hex of the UTF-8 re-serialisation or ERROR, as the seed's
// receivers compute it.
const (
	nodeReencodeScript = `const fs = require("fs");
for (const f of process.argv.slice(1)) {
  let line;
  try { line = Buffer.from(JSON.stringify(JSON.parse(fs.readFileSync(f, "utf8")))).toString("hex"); }
  catch (e) { line = "ERROR"; }
  process.stdout.write(line + "\n");
}`
	pythonReencodeScript = `import json, sys
for f in sys.argv[1:]:
    try:
        line = json.dumps(json.loads(open(f, "rb").read())).encode("utf-8").hex()
    except ValueError:
        line = "ERROR"
    print(line)`
)

// runtimeReencode runs bodies through the real interpreter and returns
// each output, or "ERROR" where it refused the body.
func runtimeReencode(t *testing.T, encoding string, bodies []string) []string {
	t.Helper()
	dir := t.TempDir()
	files := make([]string, len(bodies))
	for i, b := range bodies {
		files[i] = filepath.Join(dir, fmt.Sprintf("body%04d.json", i))
		if err := os.WriteFile(files[i], []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var cmd *exec.Cmd
	switch encoding {
	case Node:
		cmd = exec.Command(requireTool(t, "node"), append([]string{"-e", nodeReencodeScript}, files...)...)
	case Python:
		cmd = exec.Command(requireTool(t, "python3"), append([]string{"-c", pythonReencodeScript}, files...)...)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd.Path, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(bodies) {
		t.Fatalf("%s printed %d lines for %d bodies", cmd.Path, len(lines), len(bodies))
	}
	for i, l := range lines {
		if l == "ERROR" {
			continue
		}
		b, err := hex.DecodeString(l)
		if err != nil {
			t.Fatalf("%s line %d: %v", cmd.Path, i, err)
		}
		lines[i] = string(b)
	}
	return lines
}

// TestReencodeBodyMatchesRuntimes compares Body byte for byte
// with the real node and python3 on the table above and on generated
// bodies: random doubles, random decimal literals, random strings and
// long integers.
func TestReencodeBodyMatchesRuntimes(t *testing.T) {
	var names, bodies []string
	for _, tc := range reencodeCases {
		names, bodies = append(names, tc.name), append(bodies, tc.body)
	}
	rng := rand.New(rand.NewPCG(5, 1050))
	for i := range 4 {
		names = append(names, fmt.Sprintf("random doubles %d", i))
		bodies = append(bodies, randomDoubles(rng, 500))
		names = append(names, fmt.Sprintf("random decimal literals %d", i))
		bodies = append(bodies, randomDecimals(rng, 500))
		names = append(names, fmt.Sprintf("random strings %d", i))
		bodies = append(bodies, randomStrings(rng, 200))
	}
	names = append(names, "integer at Python's digit limit", "integer over Python's digit limit")
	bodies = append(bodies,
		`{"n":-`+strings.Repeat("9", pythonMaxIntDigits)+`}`,
		`{"n":`+strings.Repeat("9", pythonMaxIntDigits+1)+`}`)

	for _, enc := range []string{Node, Python} {
		t.Run(enc, func(t *testing.T) {
			want := runtimeReencode(t, enc, bodies)
			for i, body := range bodies {
				got, err := Body(enc, []byte(body))
				switch {
				case want[i] == "ERROR" && err == nil:
					t.Errorf("%s: %s refused the body, we re-encoded it", names[i], enc)
				case want[i] != "ERROR" && err != nil:
					t.Errorf("%s: %s accepted the body, we failed: %v", names[i], enc, err)
				case err == nil && string(got) != want[i]:
					t.Errorf("%s: differs from %s at byte %d\n  ours %s\nwant %s",
						names[i], enc, firstDiff(got, []byte(want[i])), clip(got), clip([]byte(want[i])))
				}
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// randomDoubles is an array of finite doubles printed by strconv: half
// from random bit patterns, spread over every exponent, half between
// 1e-10 and 1e25, where both languages switch between their formats.
func randomDoubles(rng *rand.Rand, n int) string {
	parts := make([]string, 0, n)
	for len(parts) < n {
		f := math.Float64frombits(rng.Uint64())
		if len(parts)%2 == 1 {
			f = rng.Float64() * math.Pow10(rng.IntN(36)-10)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		parts = append(parts, strconv.FormatFloat(f, 'g', -1, 64))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// randomDecimals is an array of number literals as a sender might write
// them: up to 25 significant digits, with and without a fraction, and an
// exponent from -340 to 340, so parsing must round correctly.
func randomDecimals(rng *rand.Rand, n int) string {
	parts := make([]string, n)
	for i := range parts {
		var b strings.Builder
		if rng.IntN(2) == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(byte('1' + rng.IntN(9)))
		for range rng.IntN(12) {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
		if rng.IntN(2) == 0 {
			b.WriteByte('.')
			for range 1 + rng.IntN(12) {
				b.WriteByte(byte('0' + rng.IntN(10)))
			}
		}
		switch rng.IntN(3) {
		case 0:
			fmt.Fprintf(&b, "e%d", rng.IntN(681)-340)
		case 1:
			fmt.Fprintf(&b, "E+%d", rng.IntN(30))
		}
		parts[i] = b.String()
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// randomStrings is an object of random keys and values drawn from ASCII,
// control characters, escapes, BMP and astral characters and lone
// surrogates, written raw or as \u escapes.
func randomStrings(rng *rand.Rand, n int) string {
	pieces := []func() string{
		func() string {
			if c := rune(0x20 + rng.IntN(0x5F)); c != '"' && c != '\\' {
				return string(c)
			}
			return "a"
		},
		func() string { return fmt.Sprintf(`\u%04x`, rng.IntN(0x20)) },
		func() string { return []string{`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`, "\x7f"}[rng.IntN(9)] },
		func() string { return string(rune(0xA0 + rng.IntN(0xD800-0xA0))) },
		func() string { return string(rune(0xE000 + rng.IntN(0x10000-0xE000))) },
		func() string { return string(rune(0x10000 + rng.IntN(0x100000))) },
		func() string { return fmt.Sprintf(`\u%04X`, 0xD800+rng.IntN(0x800)) },
		func() string {
			hi, lo := 0xD800+rng.IntN(0x400), 0xDC00+rng.IntN(0x400)
			return fmt.Sprintf(`\u%04x\u%04x`, hi, lo)
		},
		func() string { return fmt.Sprintf(`\u%04x`, rng.IntN(0x10000)) },
	}
	str := func() string {
		var b strings.Builder
		b.WriteByte('"')
		for range rng.IntN(8) {
			b.WriteString(pieces[rng.IntN(len(pieces))]())
		}
		b.WriteByte('"')
		return b.String()
	}
	parts := make([]string, n)
	for i := range parts {
		parts[i] = str() + ":" + str()
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func BenchmarkReencodeBody(b *testing.B) {
	body := []byte(reencodeCases[0].body)
	for _, enc := range []string{Node, Python} {
		b.Run(enc, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Body(enc, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
