// Package cli is what the Go client programs (cmd/franz, cmd/sarama) share
// with each other and with the Python and JavaScript client scripts: the
// command line, the records they produce, the JSON lines they print and the
// stop rules of group-consume. The protocol itself is described once, in
// integration-tests/clients/python/common.py; this is its Go rendering.
//
//	<program> <bootstrap> <topic> <mode> [options]
//	<program> --versions      (the client library versions it was built with)
package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Timeout bounds every client call, so that a broker that never answers
// makes a program fail with the client's error rather than hang.
const Timeout = 30 * time.Second

// Args is the parsed command line (common.py's parse_args).
type Args struct {
	Bootstrap string
	Topic     string
	Mode      string

	Acks              int
	Count             int64
	Start             int64
	TimestampBase     OptionalInt
	LingerMs          int
	MessageTimeoutMs  int
	Partition         int32
	Offset            string
	Timestamp         OptionalInt
	Partitions        int
	ReplicationFactor int
	Group             string
	ExitAfter         int
	CrashAfter        int
	IdleMs            int
	MaxSecs           int
	SessionTimeoutMs  int
	Configs           Configs
	Compression       string
}

// OptionalInt is an integer flag that may be absent.
type OptionalInt struct {
	Value int64
	Set   bool
}

func (o *OptionalInt) String() string {
	if !o.Set {
		return ""
	}
	return strconv.FormatInt(o.Value, 10)
}

func (o *OptionalInt) set(s string) error {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return err
	}
	o.Value, o.Set = v, true
	return nil
}

// optionalIntFlag is the flag.Value of an OptionalInt (whose field Set
// leaves no room for the method).
type optionalIntFlag struct{ o *OptionalInt }

func (f optionalIntFlag) String() string {
	if f.o == nil {
		return ""
	}
	return f.o.String()
}
func (f optionalIntFlag) Set(s string) error { return f.o.set(s) }

// Config is one --config K=V.
type Config struct{ Key, Value string }

// Configs collects repeated --config K=V options in order.
type Configs []Config

func (c *Configs) String() string { return fmt.Sprint(*c) }

func (c *Configs) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("--config %q is not K=V", s)
	}
	*c = append(*c, Config{k, v})
	return nil
}

var modes = []string{
	"produce", "consume", "group-consume", "offsets-for-times",
	"create-topic", "delete-topic", "metadata", "alter-configs",
	"incremental-alter-configs",
}

func parse(argv []string) (*Args, error) {
	if len(argv) < 3 {
		return nil, fmt.Errorf("usage: <bootstrap> <topic> <mode> [options]")
	}
	a := &Args{Bootstrap: argv[0], Topic: argv[1], Mode: argv[2]}
	known := false
	for _, m := range modes {
		known = known || m == a.Mode
	}
	if !known {
		return nil, fmt.Errorf("unknown mode %q (one of %s)", a.Mode, strings.Join(modes, ", "))
	}
	fs := flag.NewFlagSet(a.Mode, flag.ContinueOnError)
	fs.IntVar(&a.Acks, "acks", -1, "")
	fs.Int64Var(&a.Count, "count", 0, "")
	fs.Int64Var(&a.Start, "start", 0, "")
	fs.Var(optionalIntFlag{&a.TimestampBase}, "timestamp-base", "")
	fs.IntVar(&a.LingerMs, "linger-ms", 5, "")
	fs.IntVar(&a.MessageTimeoutMs, "message-timeout-ms", int(Timeout/time.Millisecond), "")
	partition := fs.Int("partition", 0, "")
	fs.StringVar(&a.Offset, "offset", "earliest", "")
	fs.Var(optionalIntFlag{&a.Timestamp}, "timestamp", "")
	fs.IntVar(&a.Partitions, "partitions", 1, "")
	fs.IntVar(&a.ReplicationFactor, "replication-factor", 1, "")
	fs.StringVar(&a.Group, "group", "", "")
	fs.IntVar(&a.ExitAfter, "exit-after", 0, "")
	fs.IntVar(&a.CrashAfter, "crash-after", 0, "")
	fs.IntVar(&a.IdleMs, "idle-ms", 5000, "")
	fs.IntVar(&a.MaxSecs, "max-secs", 90, "")
	fs.IntVar(&a.SessionTimeoutMs, "session-timeout-ms", 10000, "")
	fs.Var(&a.Configs, "config", "")
	fs.StringVar(&a.Compression, "compression", "none", "")
	if err := fs.Parse(argv[3:]); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	a.Partition = int32(*partition)
	switch a.Compression {
	case "none", "gzip", "snappy", "lz4", "zstd":
	default:
		return nil, fmt.Errorf("unknown --compression %q", a.Compression)
	}
	return a, nil
}

// Key is record i's key, "key-<i>".
func Key(i int64) []byte { return []byte(fmt.Sprintf("key-%d", i)) }

// Value is record i's value, "value-<i>".
func Value(i int64) []byte { return []byte(fmt.Sprintf("value-%d", i)) }

// RecordTime is record i's CreateTime with --timestamp-base; ok is false
// without it (the client then stamps the record itself).
func (a *Args) RecordTime(i int64) (t time.Time, ok bool) {
	if !a.TimestampBase.Set {
		return time.Time{}, false
	}
	return time.UnixMilli(a.TimestampBase.Value + i), true
}

var out sync.Mutex

// Emit prints one JSON line on stdout (unbuffered: a crashed or killed
// program still shows what it printed).
func Emit(obj map[string]any) {
	line, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	out.Lock()
	defer out.Unlock()
	os.Stdout.Write(append(line, '\n'))
}

func text(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// EmitRecord prints a record read by consume.
func EmitRecord(offset int64, key, value []byte, timestamp time.Time) {
	Emit(map[string]any{
		"offset": offset, "key": text(key), "value": text(value),
		"timestamp": timestamp.UnixMilli(),
	})
}

// EmitGroupRecord prints a record read by group-consume.
func EmitGroupRecord(partition int32, offset int64, key, value []byte, committed bool) {
	Emit(map[string]any{
		"partition": partition, "offset": offset, "key": text(key),
		"value": text(value), "committed": committed,
	})
}

// EmitAssigned prints a member's whole assignment.
func EmitAssigned(partitions []int32) {
	sorted := append([]int32{}, partitions...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	Emit(map[string]any{"assigned": sorted})
}

// Producing counts delivery reports and errors of a produce run.
type Producing struct {
	mu     sync.Mutex
	acked  int
	errors []string
}

// Delivered records report i; offset is -1 when the broker does not tell
// (acks=0).
func (p *Producing) Delivered(i int64, partition int32, offset int64) {
	p.mu.Lock()
	p.acked++
	p.mu.Unlock()
	Emit(map[string]any{"i": i, "partition": partition, "offset": offset})
}

// Failed records that record i was not delivered.
func (p *Producing) Failed(i int64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.errors = append(p.errors, fmt.Sprintf("record %d: %v", i, err))
}

// Finish prints the summary line and exits, 1 if any record failed.
func (p *Producing) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	shown := p.errors
	if len(shown) > 20 {
		shown = shown[:20]
	}
	if shown == nil {
		shown = []string{}
	}
	Emit(map[string]any{"acked": p.acked, "failed": len(p.errors), "errors": shown})
	if len(p.errors) > 0 {
		os.Exit(1)
	}
	os.Exit(0)
}

// GroupConsumption holds group-consume's stop rules: Done once
// --exit-after records were committed, or --idle-ms passed since the last
// record; it fails the program once --max-secs passed.
type GroupConsumption struct {
	args       *Args
	Committed  int
	lastRecord time.Time
	deadline   time.Time
}

func NewGroupConsumption(a *Args) *GroupConsumption {
	return &GroupConsumption{args: a, deadline: time.Now().Add(time.Duration(a.MaxSecs) * time.Second)}
}

// Record counts a record read; with --crash-after the program ends here,
// abruptly, without leaving the group.
func (g *GroupConsumption) Record(committed bool) {
	g.lastRecord = time.Now()
	if committed {
		g.Committed++
	}
	if g.args.CrashAfter > 0 && g.Committed >= g.args.CrashAfter {
		Emit(map[string]any{"crashed": g.Committed})
		os.Exit(0)
	}
}

// ExitReached tells whether --exit-after records were committed.
func (g *GroupConsumption) ExitReached() bool {
	return g.args.ExitAfter > 0 && g.Committed >= g.args.ExitAfter
}

func (g *GroupConsumption) Done() bool {
	if g.ExitReached() {
		return true
	}
	idle := time.Duration(g.args.IdleMs) * time.Millisecond
	if !g.lastRecord.IsZero() && time.Since(g.lastRecord) > idle {
		return true
	}
	if time.Now().After(g.deadline) {
		Fail(fmt.Sprintf("still consuming after %ds (%d committed)", g.args.MaxSecs, g.Committed))
	}
	return false
}

func (g *GroupConsumption) Finish() {
	Emit(map[string]any{"consumed": g.Committed})
}

// Fail prints {"error": message} and the message on stderr, and exits 1.
func Fail(message string) {
	Emit(map[string]any{"error": message})
	fmt.Fprintln(os.Stderr, message)
	os.Exit(1)
}

// Mode runs one mode; an error becomes a JSON error line and exit code 1.
type Mode func(*Args) error

// Client is a client program: its implementation of every mode.
type Client interface {
	Produce(*Args) error
	Consume(*Args) error
	GroupConsume(*Args) error
	OffsetsForTimes(*Args) error
	CreateTopic(*Args) error
	DeleteTopic(*Args) error
	Metadata(*Args) error
	AlterConfigs(*Args) error
	IncrementalAlterConfigs(*Args) error
}

// Main runs the mode of client named on the command line. `--versions`
// prints the versions of the modules named by `libraries` that the program
// was built with.
func Main(client Client, libraries ...string) {
	if len(os.Args) == 2 && os.Args[1] == "--versions" {
		printVersions(libraries)
		return
	}
	a, err := parse(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	mode := map[string]Mode{
		"produce":                   client.Produce,
		"consume":                   client.Consume,
		"group-consume":             client.GroupConsume,
		"offsets-for-times":         client.OffsetsForTimes,
		"create-topic":              client.CreateTopic,
		"delete-topic":              client.DeleteTopic,
		"metadata":                  client.Metadata,
		"alter-configs":             client.AlterConfigs,
		"incremental-alter-configs": client.IncrementalAlterConfigs,
	}[a.Mode]
	if mode == nil {
		Fail(fmt.Sprintf("mode %s is not implemented by this client", a.Mode))
	}
	if err := mode(a); err != nil {
		Fail(err.Error())
	}
}

func printVersions(libraries []string) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		Fail("no build information in this binary")
	}
	for _, want := range libraries {
		version := "(not linked)"
		for _, dep := range info.Deps {
			if dep.Path == want {
				version = dep.Version
			}
		}
		fmt.Printf("%s %s (%s)\n", want, version, info.GoVersion)
	}
}
