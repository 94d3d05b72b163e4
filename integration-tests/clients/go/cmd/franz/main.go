// Command franz is franz-go (kgo for producing and consuming, kadm for
// administration) as a gregor client, with the command line and output of
// the other client programs (see internal/cli). It uses franz-go as its
// users do: the defaults except what a mode asks for, so the producer is
// idempotent with acks=all and consumer groups balance with franz-go's
// default, cooperative-sticky.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"gregor-clients/internal/cli"
)

// program is franz-go's implementation of the modes.
type program struct{}

func main() {
	cli.Main(program{}, "github.com/twmb/franz-go", "github.com/twmb/franz-go/pkg/kadm", "github.com/twmb/franz-go/pkg/kmsg")
}

func seeds(a *cli.Args) kgo.Opt {
	return kgo.SeedBrokers(strings.Split(a.Bootstrap, ",")...)
}

func compression(name string) kgo.CompressionCodec {
	switch name {
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}

func (program) Produce(a *cli.Args) error {
	opts := []kgo.Opt{
		seeds(a),
		kgo.DefaultProduceTopic(a.Topic),
		// The scenarios produce to topics that the broker creates on first
		// use (auto.create.topics.enable); franz-go asks for that only
		// with this option, otherwise it fails with UNKNOWN_TOPIC_OR_PARTITION.
		kgo.AllowAutoTopicCreation(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(time.Duration(a.LingerMs) * time.Millisecond),
		kgo.ProducerBatchCompression(compression(a.Compression)),
	}
	// franz-go times a record out from its Timestamp, not from when it was
	// produced: records with explicit CreateTimes in the past would time
	// out at once, so they keep franz-go's default (no timeout; Flush
	// below is bounded all the same).
	if !a.TimestampBase.Set {
		opts = append(opts, kgo.RecordDeliveryTimeout(time.Duration(a.MessageTimeoutMs)*time.Millisecond))
	}
	switch a.Acks {
	case -1:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case 1:
		// Idempotence needs acks=all.
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case 0:
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	default:
		return fmt.Errorf("acks %d is not one of -1, 0, 1", a.Acks)
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer client.Close()
	var run cli.Producing
	var wg sync.WaitGroup
	for i := a.Start; i < a.Start+a.Count; i++ {
		r := &kgo.Record{Partition: a.Partition, Key: cli.Key(i), Value: cli.Value(i)}
		if t, ok := a.RecordTime(i); ok {
			r.Timestamp = t
		}
		wg.Add(1)
		client.Produce(context.Background(), r, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				run.Failed(i, err)
				return
			}
			offset := r.Offset
			if a.Acks == 0 {
				offset = -1
			}
			run.Delivered(i, r.Partition, offset)
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(),
		time.Duration(a.MessageTimeoutMs)*time.Millisecond+cli.Timeout)
	defer cancel()
	if err := client.Flush(ctx); err != nil {
		run.Failed(-1, fmt.Errorf("flush: %w", err))
	} else {
		wg.Wait()
	}
	run.Finish()
	return nil
}

// withAdmin runs f with an admin client of the command line's brokers and
// a context bounded by cli.Timeout, and closes the client after.
func withAdmin(a *cli.Args, f func(adm *kadm.Client, ctx context.Context) error) error {
	client, err := kgo.NewClient(seeds(a))
	if err != nil {
		return err
	}
	defer client.Close()
	ctx, cancel := timeout()
	defer cancel()
	return f(kadm.NewClient(client), ctx)
}

func timeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), cli.Timeout)
}

// listed returns the offset kadm listed for the partition of the command
// line: listed(a)(adm.ListEndOffsets(ctx, a.Topic)).
func listed(a *cli.Args) func(kadm.ListedOffsets, error) (kadm.ListedOffset, error) {
	return func(offsets kadm.ListedOffsets, err error) (kadm.ListedOffset, error) {
		if err != nil {
			return kadm.ListedOffset{}, err
		}
		o, ok := offsets.Lookup(a.Topic, a.Partition)
		if !ok {
			return o, fmt.Errorf("no offset listed for %s/%d", a.Topic, a.Partition)
		}
		return o, o.Err
	}
}

func (program) Consume(a *cli.Args) error {
	return withAdmin(a, func(adm *kadm.Client, ctx context.Context) error {
		low, err := listed(a)(adm.ListStartOffsets(ctx, a.Topic))
		if err != nil {
			return fmt.Errorf("start offset: %w", err)
		}
		high, err := listed(a)(adm.ListEndOffsets(ctx, a.Topic))
		if err != nil {
			return fmt.Errorf("end offset: %w", err)
		}
		start := low.Offset
		if a.Offset != "earliest" {
			if _, err := fmt.Sscan(a.Offset, &start); err != nil {
				return fmt.Errorf("--offset %q: %w", a.Offset, err)
			}
		}
		client, err := kgo.NewClient(seeds(a), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
			a.Topic: {a.Partition: kgo.NewOffset().At(start)},
		}))
		if err != nil {
			return err
		}
		defer client.Close()
		position := start
		for position < high.Offset {
			fetches := client.PollFetches(ctx)
			if err := fetches.Err(); err != nil {
				return fmt.Errorf("only reached offset %d of %d: %w", position, high.Offset, err)
			}
			fetches.EachRecord(func(r *kgo.Record) {
				cli.EmitRecord(r.Offset, r.Key, r.Value, r.Timestamp)
				position = r.Offset + 1
			})
		}
		cli.Emit(map[string]any{"end": high.Offset})
		return nil
	})
}

// membership is a member's current assignment, printed whole whenever a
// rebalance changes it (a cooperative rebalance reports only the partitions
// it adds or revokes), but not when the member leaves.
type membership struct {
	mu      sync.Mutex
	owned   map[int32]bool
	topic   string
	leaving bool
}

func (m *membership) update(partitions map[string][]int32, add bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.leaving {
		return
	}
	if !add && len(partitions[m.topic]) == 0 {
		return
	}
	for _, p := range partitions[m.topic] {
		if add {
			m.owned[p] = true
		} else {
			delete(m.owned, p)
		}
	}
	var now []int32
	for p := range m.owned {
		now = append(now, p)
	}
	cli.EmitAssigned(now)
}

func (m *membership) leave() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.leaving = true
}

func (program) GroupConsume(a *cli.Args) error {
	m := &membership{owned: map[int32]bool{}, topic: a.Topic}
	client, err := kgo.NewClient(
		seeds(a),
		kgo.ConsumerGroup(a.Group),
		kgo.ConsumeTopics(a.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.SessionTimeout(time.Duration(a.SessionTimeoutMs)*time.Millisecond),
		kgo.HeartbeatInterval(time.Second),
		// Records polled are processed and committed before a rebalance
		// may take their partitions away.
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, p map[string][]int32) {
			m.update(p, true)
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, p map[string][]int32) {
			m.update(p, false)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, p map[string][]int32) {
			m.update(p, false)
		}),
	)
	if err != nil {
		return err
	}
	run := cli.NewGroupConsumption(a)
	for !run.Done() {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		fetches := client.PollFetches(ctx)
		cancel()
		var failed error
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				failed = fmt.Errorf("consume error on %s/%d: %w", topic, partition, err)
			}
		})
		if failed != nil {
			return failed
		}
		for _, r := range fetches.Records() {
			if run.ExitReached() {
				break
			}
			ctx, cancel := timeout()
			err := client.CommitRecords(ctx, r)
			cancel()
			if err != nil {
				fmt.Fprintf(os.Stderr, "commit of %d/%d failed: %v\n", r.Partition, r.Offset, err)
			}
			cli.EmitGroupRecord(r.Partition, r.Offset, r.Key, r.Value, err == nil)
			run.Record(err == nil)
		}
		client.AllowRebalance()
	}
	m.leave()
	client.CloseAllowingRebalance()
	run.Finish()
	return nil
}

func (program) OffsetsForTimes(a *cli.Args) error {
	if !a.Timestamp.Set {
		return errors.New("offsets-for-times needs --timestamp")
	}
	return withAdmin(a, func(adm *kadm.Client, ctx context.Context) error {
		o, err := listed(a)(adm.ListOffsetsAfterMilli(ctx, a.Timestamp.Value, a.Topic))
		if err != nil {
			return err
		}
		cli.Emit(map[string]any{"offset": o.Offset, "timestamp": a.Timestamp.Value})
		return nil
	})
}

func (program) CreateTopic(a *cli.Args) error {
	return withAdmin(a, func(adm *kadm.Client, ctx context.Context) error {
		if _, err := adm.CreateTopic(ctx, int32(a.Partitions), int16(a.ReplicationFactor), nil, a.Topic); err != nil {
			return err
		}
		cli.Emit(map[string]any{"created": a.Topic})
		return nil
	})
}

func (program) DeleteTopic(a *cli.Args) error {
	return withAdmin(a, func(adm *kadm.Client, ctx context.Context) error {
		if _, err := adm.DeleteTopic(ctx, a.Topic); err != nil {
			return err
		}
		cli.Emit(map[string]any{"deleted": a.Topic})
		return nil
	})
}

func (program) Metadata(a *cli.Args) error {
	return withAdmin(a, func(adm *kadm.Client, ctx context.Context) error {
		md, err := adm.Metadata(ctx)
		if err != nil {
			return err
		}
		brokers := []map[string]any{}
		for _, b := range md.Brokers {
			brokers = append(brokers, map[string]any{"id": b.NodeID, "host": b.Host, "port": b.Port})
		}
		topics := map[string]any{}
		for name, t := range md.Topics {
			topics[name] = len(t.Partitions)
		}
		cli.Emit(map[string]any{"brokers": brokers, "topics": topics})
		return nil
	})
}

func (program) AlterConfigs(a *cli.Args) error {
	return alter(a, func(adm *kadm.Client, ctx context.Context, configs []kadm.AlterConfig) (kadm.AlterConfigsResponses, error) {
		return adm.AlterTopicConfigsState(ctx, configs, a.Topic)
	})
}

func (program) IncrementalAlterConfigs(a *cli.Args) error {
	return alter(a, func(adm *kadm.Client, ctx context.Context, configs []kadm.AlterConfig) (kadm.AlterConfigsResponses, error) {
		return adm.AlterTopicConfigs(ctx, configs, a.Topic)
	})
}

// alter sets the --config keys with `request` (AlterConfigs replaces every
// override, IncrementalAlterConfigs sets only these), then prints the
// topic's overrides as DescribeConfigs reports them.
func alter(a *cli.Args, request func(*kadm.Client, context.Context, []kadm.AlterConfig) (kadm.AlterConfigsResponses, error)) error {
	return withAdmin(a, func(adm *kadm.Client, ctx context.Context) error {
		var configs []kadm.AlterConfig
		for _, c := range a.Configs {
			value := c.Value
			configs = append(configs, kadm.AlterConfig{Op: kadm.SetConfig, Name: c.Key, Value: &value})
		}
		responses, err := request(adm, ctx, configs)
		if err != nil {
			return err
		}
		for _, r := range responses {
			if r.Err != nil {
				return fmt.Errorf("%s: %w (%s)", r.Name, r.Err, r.ErrMessage)
			}
		}
		described, err := adm.DescribeTopicConfigs(ctx, a.Topic)
		if err != nil {
			return err
		}
		config, err := described.On(a.Topic, nil)
		if err != nil {
			return err
		}
		overrides := map[string]any{}
		for _, c := range config.Configs {
			if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
				overrides[c.Key] = c.MaybeValue()
			}
		}
		cli.Emit(map[string]any{"overrides": overrides})
		return nil
	})
}
