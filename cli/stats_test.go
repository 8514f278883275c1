package cli

import "testing"

// TestCommandStats prints the stats as text: a row per target, the
// totals since start and the store with sizes in human units (issue 16,
// item 4); --json gives the answer as it came.
func TestCommandStats(t *testing.T) {
	cliRunAdminCases(t, []cliAdminCase{
		{
			name:   "stats with totals and the store in human units",
			args:   []string{"stats"},
			status: 200,
			answer: `{"targets":{
				"pager":{"pending":0,"dead":4,"circuit":"open","consecutive_failures":5,"next_probe":"2024-01-20T10:35:00.5Z","configured":true},
				"app":{"pending":3,"dead":1,"oldest_pending_seconds":125,"circuit":"closed","configured":true}},
				"store":{"backend":"badger","dir":"/var/lib/inbox","size_bytes":1572864,"free_space_bytes":42949672960},
				"totals":{"since":"2024-01-20T09:00:00Z","received":10,"delivered":7,"retried":3,"dead":1}}`,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/stats"},
			wantOut: []string{
				"TARGET  PENDING  DEAD  OLDEST PENDING  CIRCUIT",
				"app     3        1     2m5s            closed\n",
				"pager   0        4     -               open (5 failures, next probe 2024-01-20T10:35:00Z)\n",
				"since start (2024-01-20T09:00:00Z, this process): received 10, delivered 7, retried 3, dead 1\n",
				"store: badger, /var/lib/inbox, 1.5 MiB used, 40 GiB free\n",
			},
			wantNotOut: []string{"{", "size_bytes"},
		},
		{
			name:       "stats of a store without a disk, from a server without totals",
			args:       []string{"stats"},
			status:     200,
			answer:     `{"targets":{},"store":{"backend":"nats","servers":"nats://a:4222 nats://b:4222\u202e"}}`,
			wantCall:   &cliAdminCall{method: "GET", path: "/webhook_inbox/stats"},
			wantOut:    []string{"(no targets with pending or dead events)\n", "store: nats, servers nats://a:4222 nats://b:4222?\n"},
			wantNotOut: []string{"since start"},
		},
		{
			name:     "stats of a store that cannot measure itself",
			args:     []string{"stats"},
			status:   200,
			answer:   `{"targets":{},"store":{"backend":"badger","dir":"/d","size_bytes":-1,"free_space_bytes":-1}}`,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/stats"},
			wantOut:  []string{"store: badger, /d, size unknown, free space unknown\n"},
		},
		{
			name:   "stats mark orphaned targets",
			args:   []string{"stats"},
			status: 200,
			answer: `{"targets":{
				"app":{"pending":0,"dead":0,"circuit":"closed","configured":true},
				"gone":{"pending":2,"dead":0,"circuit":"closed","configured":false,"orphaned":true},
				"old":{"pending":0,"dead":3,"circuit":"closed","configured":false}}}`,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/stats"},
			wantOut: []string{
				"app              0        0     -               closed\n",
				"gone (orphaned)  2        0     -               closed\n",
				"old (removed)    0        3     -               closed\n",
				"orphaned: not in the running config",
			},
		},
		{
			name:     "stats as JSON",
			args:     []string{"stats", "--json"},
			status:   200,
			answer:   `{"targets":{},"store":{"size_bytes":1},"totals":{"received":1}}`,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/stats"},
			wantOut:  []string{"{\n  \"targets\": {},\n  \"store\": {\n    \"size_bytes\": 1\n  },\n  \"totals\": {\n    \"received\": 1\n  }\n}\n"},
		},
		{
			name:     "stats answer of another shape",
			args:     []string{"stats"},
			status:   200,
			answer:   `[{"target":"app"}]`,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/stats"},
			wantErr:  "decoding the stats",
		},
		{
			name:     "stats error",
			args:     []string{"stats"},
			status:   503,
			answer:   `{"error":"webhook inbox is not running"}`,
			wantCall: &cliAdminCall{method: "GET", path: "/webhook_inbox/stats"},
			wantErr:  `HTTP 503: webhook inbox is not running`,
		},
	})
}
