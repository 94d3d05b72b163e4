// Command sarama is IBM's sarama as a gregor client, configured as a Kafka
// 2.8 user configures it (config.Version = V2_8_0_0, which picks the
// request versions), with the command line and output of the other client
// programs (see internal/cli). Besides the version it keeps sarama's
// defaults, so consumer groups balance with its default, the eager range
// strategy.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"gregor-clients/internal/cli"
)

// program is sarama's implementation of the modes.
type program struct{}

func main() {
	cli.Main(program{}, "github.com/IBM/sarama")
}

func brokers(a *cli.Args) []string { return strings.Split(a.Bootstrap, ",") }

// config is sarama's default configuration for Kafka 2.8, every network
// call bounded by cli.Timeout.
func config() *sarama.Config {
	if os.Getenv("SARAMA_LOG") != "" {
		sarama.Logger = log.New(os.Stderr, "[sarama] ", log.Lmicroseconds)
	}
	c := sarama.NewConfig()
	c.Version = sarama.V2_8_0_0
	c.Net.DialTimeout = cli.Timeout
	c.Net.ReadTimeout = cli.Timeout
	c.Net.WriteTimeout = cli.Timeout
	c.Admin.Timeout = cli.Timeout
	return c
}

func compression(name string) sarama.CompressionCodec {
	switch name {
	case "gzip":
		return sarama.CompressionGZIP
	case "snappy":
		return sarama.CompressionSnappy
	case "lz4":
		return sarama.CompressionLZ4
	case "zstd":
		return sarama.CompressionZSTD
	}
	return sarama.CompressionNone
}

func (program) Produce(a *cli.Args) error {
	c := config()
	c.Producer.RequiredAcks = sarama.RequiredAcks(a.Acks)
	c.Producer.Partitioner = sarama.NewManualPartitioner
	c.Producer.Flush.Frequency = time.Duration(a.LingerMs) * time.Millisecond
	c.Producer.Compression = compression(a.Compression)
	c.Producer.Return.Successes = true
	producer, err := sarama.NewAsyncProducer(brokers(a), c)
	if err != nil {
		return err
	}
	var run cli.Producing
	var reports sync.WaitGroup
	reports.Add(2)
	go func() {
		defer reports.Done()
		for msg := range producer.Successes() {
			offset := msg.Offset
			if a.Acks == 0 {
				offset = -1
			}
			run.Delivered(msg.Metadata.(int64), msg.Partition, offset)
		}
	}()
	go func() {
		defer reports.Done()
		for e := range producer.Errors() {
			run.Failed(e.Msg.Metadata.(int64), e.Err)
		}
	}()
	for i := a.Start; i < a.Start+a.Count; i++ {
		msg := &sarama.ProducerMessage{
			Topic:     a.Topic,
			Partition: a.Partition,
			Key:       sarama.ByteEncoder(cli.Key(i)),
			Value:     sarama.ByteEncoder(cli.Value(i)),
			Metadata:  i,
		}
		if t, ok := a.RecordTime(i); ok {
			msg.Timestamp = t
		}
		producer.Input() <- msg
	}
	// AsyncClose flushes what is buffered; the report channels close
	// once every record has its report.
	producer.AsyncClose()
	done := make(chan struct{})
	go func() { reports.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Duration(a.MessageTimeoutMs)*time.Millisecond + cli.Timeout):
		run.Failed(-1, errors.New("records still undelivered after the message timeout"))
	}
	run.Finish()
	return nil
}

func (program) Consume(a *cli.Args) error {
	client, err := sarama.NewClient(brokers(a), config())
	if err != nil {
		return err
	}
	defer client.Close()
	low, err := client.GetOffset(a.Topic, a.Partition, sarama.OffsetOldest)
	if err != nil {
		return fmt.Errorf("start offset: %w", err)
	}
	high, err := client.GetOffset(a.Topic, a.Partition, sarama.OffsetNewest)
	if err != nil {
		return fmt.Errorf("end offset: %w", err)
	}
	start := low
	if a.Offset != "earliest" {
		if start, err = strconv.ParseInt(a.Offset, 10, 64); err != nil {
			return fmt.Errorf("--offset %q: %w", a.Offset, err)
		}
	}
	if start < high {
		consumer, err := sarama.NewConsumerFromClient(client)
		if err != nil {
			return err
		}
		defer consumer.Close()
		pc, err := consumer.ConsumePartition(a.Topic, a.Partition, start)
		if err != nil {
			return err
		}
		defer pc.Close()
		deadline := time.After(cli.Timeout)
		for position := start; position < high; {
			select {
			case msg := <-pc.Messages():
				cli.EmitRecord(msg.Offset, msg.Key, msg.Value, msg.Timestamp)
				position = msg.Offset + 1
			case e := <-pc.Errors():
				return fmt.Errorf("consume error: %w", e.Err)
			case <-deadline:
				return fmt.Errorf("only reached offset %d of %d in %s", position, high, cli.Timeout)
			}
		}
	}
	cli.Emit(map[string]any{"end": high})
	return nil
}

// member is group-consume's sarama.ConsumerGroupHandler. sarama reports no
// result from session.Commit (failures go to the Errors channel, some are
// only retried later), so each record's offset is committed with an
// OffsetCommit of its own, as sarama's offset manager sends it for Kafka
// 2.8 (v8, the session's generation and member id), whose answer says
// whether it was committed. It goes through a client of its own: on the
// consumer's connection to the broker each commit would wait behind a
// fetch held for up to Consumer.MaxWaitTime (500 ms), as the broker
// answers a connection's requests in order.
type member struct {
	args      *cli.Args
	committer sarama.Client
	mu        sync.Mutex // one record at a time, as the other clients
	run       *cli.GroupConsumption
}

func (m *member) Setup(s sarama.ConsumerGroupSession) error {
	cli.EmitAssigned(s.Claims()[m.args.Topic])
	return nil
}

func (m *member) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (m *member) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			if !m.process(s, msg) {
				return nil
			}
		case <-s.Context().Done():
			return nil
		}
	}
}

// process commits and prints one record; false once --exit-after records
// were committed (the record is then left for the next owner).
func (m *member) process(s sarama.ConsumerGroupSession, msg *sarama.ConsumerMessage) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.run.ExitReached() {
		return false
	}
	err := m.commit(s, msg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "commit of %d/%d failed: %v\n", msg.Partition, msg.Offset, err)
	}
	cli.EmitGroupRecord(msg.Partition, msg.Offset, msg.Key, msg.Value, err == nil)
	m.run.Record(err == nil)
	return true
}

func (m *member) commit(s sarama.ConsumerGroupSession, msg *sarama.ConsumerMessage) error {
	coordinator, err := m.committer.Coordinator(m.args.Group)
	if err != nil {
		return err
	}
	request := &sarama.OffsetCommitRequest{
		Version:                 8,
		ConsumerGroup:           m.args.Group,
		ConsumerGroupGeneration: s.GenerationID(),
		ConsumerID:              s.MemberID(),
	}
	request.AddBlockWithLeaderEpoch(msg.Topic, msg.Partition, msg.Offset+1, -1, 0, "")
	response, err := coordinator.CommitOffset(request)
	if err != nil {
		return err
	}
	if code, ok := response.Errors[msg.Topic][msg.Partition]; !ok {
		return errors.New("no answer for the partition")
	} else if code != sarama.ErrNoError {
		return code
	}
	return nil
}

func (m *member) done() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.run.Done()
}

func (program) GroupConsume(a *cli.Args) error {
	c := config()
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Offsets.AutoCommit.Enable = false
	c.Consumer.Group.Session.Timeout = time.Duration(a.SessionTimeoutMs) * time.Millisecond
	c.Consumer.Group.Heartbeat.Interval = time.Second
	c.Consumer.Return.Errors = true
	client, err := sarama.NewClient(brokers(a), c)
	if err != nil {
		return err
	}
	defer client.Close()
	group, err := sarama.NewConsumerGroupFromClient(a.Group, client)
	if err != nil {
		return err
	}
	committer, err := sarama.NewClient(brokers(a), c)
	if err != nil {
		return err
	}
	defer committer.Close()
	go func() {
		for err := range group.Errors() {
			fmt.Fprintf(os.Stderr, "consumer group error: %v\n", err)
		}
	}()
	m := &member{args: a, committer: committer, run: cli.NewGroupConsumption(a)}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	ended := make(chan error, 1)
	go func() {
		// Consume returns at the end of each session (a rebalance); the
		// member then joins again.
		for ctx.Err() == nil {
			if err := group.Consume(ctx, []string{a.Topic}, m); err != nil {
				ended <- err
				return
			}
		}
		ended <- nil
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !m.done() {
		select {
		case err := <-ended:
			return fmt.Errorf("the consumer group ended: %v", err)
		case <-tick.C:
		}
	}
	stop()
	if err := <-ended; err != nil {
		return err
	}
	// Close leaves the group.
	if err := group.Close(); err != nil {
		return err
	}
	m.run.Finish()
	return nil
}

func (program) OffsetsForTimes(a *cli.Args) error {
	if !a.Timestamp.Set {
		return errors.New("offsets-for-times needs --timestamp")
	}
	client, err := sarama.NewClient(brokers(a), config())
	if err != nil {
		return err
	}
	defer client.Close()
	offset, err := client.GetOffset(a.Topic, a.Partition, a.Timestamp.Value)
	if err != nil {
		return err
	}
	cli.Emit(map[string]any{"offset": offset, "timestamp": a.Timestamp.Value})
	return nil
}

func admin(a *cli.Args) (sarama.ClusterAdmin, error) {
	return sarama.NewClusterAdmin(brokers(a), config())
}

func (program) CreateTopic(a *cli.Args) error {
	adm, err := admin(a)
	if err != nil {
		return err
	}
	defer adm.Close()
	detail := &sarama.TopicDetail{
		NumPartitions:     int32(a.Partitions),
		ReplicationFactor: int16(a.ReplicationFactor),
	}
	if err := adm.CreateTopic(a.Topic, detail, false); err != nil {
		return err
	}
	cli.Emit(map[string]any{"created": a.Topic})
	return nil
}

func (program) DeleteTopic(a *cli.Args) error {
	adm, err := admin(a)
	if err != nil {
		return err
	}
	defer adm.Close()
	if err := adm.DeleteTopic(a.Topic); err != nil {
		return err
	}
	cli.Emit(map[string]any{"deleted": a.Topic})
	return nil
}

func (program) Metadata(a *cli.Args) error {
	client, err := sarama.NewClient(brokers(a), config())
	if err != nil {
		return err
	}
	defer client.Close()
	if err := client.RefreshMetadata(); err != nil {
		return err
	}
	brokerList := []map[string]any{}
	for _, b := range client.Brokers() {
		host, port, err := net.SplitHostPort(b.Addr())
		if err != nil {
			return err
		}
		portNumber, err := strconv.Atoi(port)
		if err != nil {
			return err
		}
		brokerList = append(brokerList, map[string]any{"id": b.ID(), "host": host, "port": portNumber})
	}
	sort.Slice(brokerList, func(i, j int) bool {
		return brokerList[i]["id"].(int32) < brokerList[j]["id"].(int32)
	})
	names, err := client.Topics()
	if err != nil {
		return err
	}
	topics := map[string]any{}
	for _, name := range names {
		partitions, err := client.Partitions(name)
		if err != nil {
			return err
		}
		topics[name] = len(partitions)
	}
	cli.Emit(map[string]any{"brokers": brokerList, "topics": topics})
	return nil
}

func (program) AlterConfigs(a *cli.Args) error {
	return alter(a, func(adm sarama.ClusterAdmin) error {
		entries := map[string]*string{}
		for _, c := range a.Configs {
			value := c.Value
			entries[c.Key] = &value
		}
		return adm.AlterConfig(sarama.TopicResource, a.Topic, entries, false)
	})
}

func (program) IncrementalAlterConfigs(a *cli.Args) error {
	return alter(a, func(adm sarama.ClusterAdmin) error {
		entries := map[string]sarama.IncrementalAlterConfigsEntry{}
		for _, c := range a.Configs {
			value := c.Value
			entries[c.Key] = sarama.IncrementalAlterConfigsEntry{
				Operation: sarama.IncrementalAlterConfigsOperationSet,
				Value:     &value,
			}
		}
		return adm.IncrementalAlterConfig(sarama.TopicResource, a.Topic, entries, false)
	})
}

// alter runs `request` (AlterConfigs replaces every override,
// IncrementalAlterConfigs sets only the keys given), then prints the
// topic's overrides as DescribeConfigs reports them.
func alter(a *cli.Args, request func(sarama.ClusterAdmin) error) error {
	adm, err := admin(a)
	if err != nil {
		return err
	}
	defer adm.Close()
	if err := request(adm); err != nil {
		return err
	}
	entries, err := adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: a.Topic})
	if err != nil {
		return err
	}
	overrides := map[string]any{}
	for _, e := range entries {
		if e.Source == sarama.SourceTopic {
			overrides[e.Name] = e.Value
		}
	}
	cli.Emit(map[string]any{"overrides": overrides})
	return nil
}
