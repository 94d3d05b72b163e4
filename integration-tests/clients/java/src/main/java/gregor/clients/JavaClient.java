/*
 * Apache Kafka's Java client (kafka-clients) as a gregor client in the
 * integration tests: the command line and JSON-lines output of every client
 * script (integration-tests/clients/python/common.py describes them), so the
 * scenario matrices in integration-tests/src drive it like the others.
 *
 * Compiled against kafka-clients 2.8.2 and run against 2.8.2 or 4.x: it uses
 * only API both have (poll(Duration), Admin, ...). The one exception,
 * Admin.alterConfigs (removed in 4.0), is called by reflection and reported
 * as an error where it is missing.
 *
 * Options beyond common.py's, which other clients may adopt:
 *   produce        --compression none|gzip|snappy|lz4|zstd, --idempotent
 *                  (enable.idempotence=true with acks=all; otherwise
 *                  idempotence is off and nothing is retried)
 *   group-consume  --assignor range|roundrobin|sticky|cooperative-sticky,
 *                  --group-instance-id ID (static membership); each
 *                  {"assigned"} line also carries "generation" and
 *                  "member_id", and {"revoked": [partitions]} is printed
 *                  when partitions are taken away
 *   create-topic   --config K=V sets topic configs
 * and administration modes:
 *   describe-cluster      {"cluster_id", "controller", "brokers": [{"id", "host", "port"}]}
 *   describe-configs [--broker ID]
 *                         {"configs": {name: {"value", "source", "read_only",
 *                          "sensitive", "synonyms": [{"name", "value", "source"}]}}}
 *                         of the topic, or of broker ID
 *   list-groups           {"groups": [{"group", "simple"}]}
 *   describe-group --group G
 *                         {"group", "state", "assignor", "simple", "coordinator",
 *                          "members": [{"member_id", "instance_id", "client_id",
 *                          "host", "partitions": [..] (of the topic)}]}
 *   list-group-offsets --group G
 *                         {"offsets": {partition: offset}} of the topic
 *   alter-group-offsets --group G --partition P --offset N
 *                         commits N for the partition; then as list-group-offsets
 *   delete-group-offsets --group G --partition P
 *                         {"deleted_offsets": [P]} (OffsetDelete)
 *   delete-group --group G {"deleted_group": G}
 *   remove-members --group G --group-instance-id ID
 *                         {"removed": ID} (LeaveGroup of a static member)
 * A client error is printed as {"error": "<ExceptionClass>: <message>"}
 * and the program exits 1.
 */
package gregor.clients;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ConsumerGroupListing;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.MemberToRemove;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.RemoveMembersFromConsumerGroupOptions;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class JavaClient {
    /** Every client call is bounded by this (as in common.py). */
    static final int TIMEOUT_S = 30;
    static final Duration TIMEOUT = Duration.ofSeconds(TIMEOUT_S);

    private final Args args;

    private JavaClient(Args args) {
        this.args = args;
    }

    public static void main(String[] argv) {
        Args args;
        try {
            args = Args.parse(argv);
        } catch (IllegalArgumentException e) {
            System.err.println("usage: <bootstrap> <topic> <mode> [options]: " + e.getMessage());
            System.exit(2);
            return;
        }
        int status = 0;
        try {
            status = new JavaClient(args).run();
        } catch (ExecutionException e) {
            fail(describe(e.getCause()));
        } catch (Exception e) {
            fail(describe(e));
        }
        System.out.flush();
        System.exit(status);
    }

    private int run() throws Exception {
        switch (args.mode) {
            case "produce": return produce();
            case "consume": consume(); return 0;
            case "offsets-for-times": offsetsForTimes(); return 0;
            case "group-consume": groupConsume(); return 0;
            case "create-topic": createTopic(); return 0;
            case "delete-topic": deleteTopic(); return 0;
            case "metadata": metadata(); return 0;
            case "alter-configs": alterConfigs(); return 0;
            case "incremental-alter-configs": incrementalAlterConfigs(); return 0;
            case "describe-configs": describeConfigs(); return 0;
            case "describe-cluster": describeCluster(); return 0;
            case "list-groups": listGroups(); return 0;
            case "describe-group": describeGroup(); return 0;
            case "list-group-offsets": listGroupOffsets(); return 0;
            case "alter-group-offsets": alterGroupOffsets(); return 0;
            case "delete-group-offsets": deleteGroupOffsets(); return 0;
            case "delete-group": deleteGroup(); return 0;
            case "remove-members": removeMembers(); return 0;
            default:
                fail("unknown mode " + args.mode);
                return 1;
        }
    }

    // ---- output ----------------------------------------------------------

    static synchronized void emit(Map<String, ?> obj) {
        System.out.println(Json.write(obj));
        System.out.flush();
    }

    static void fail(String message) {
        emit(Map.of("error", message));
        System.err.println(message);
        System.out.flush();
        System.exit(1);
    }

    static String describe(Throwable e) {
        return e.getClass().getSimpleName() + ": " + e.getMessage();
    }

    static String text(byte[] bytes) {
        return bytes == null ? null : new String(bytes, StandardCharsets.UTF_8);
    }

    static <T> T get(KafkaFuture<T> future) throws Exception {
        return future.get(TIMEOUT_S, TimeUnit.SECONDS);
    }

    // ---- producing -------------------------------------------------------

    private int produce() throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", args.bootstrap);
        p.put("acks", args.acks == -1 ? "all" : String.valueOf(args.acks));
        p.put("linger.ms", String.valueOf(args.lingerMs));
        p.put("compression.type", args.compression);
        p.put("enable.idempotence", String.valueOf(args.idempotent));
        if (!args.idempotent) {
            // No retries hiding a refused batch: the first error is reported.
            p.put("retries", "0");
        }
        int requestTimeout = Math.min(TIMEOUT_S * 1000, args.messageTimeoutMs);
        p.put("request.timeout.ms", String.valueOf(requestTimeout));
        // The producer requires delivery.timeout.ms >= linger.ms + request.timeout.ms.
        p.put("delivery.timeout.ms",
                String.valueOf(Math.max(args.messageTimeoutMs, args.lingerMs + requestTimeout)));
        p.put("max.block.ms", String.valueOf(TIMEOUT_S * 1000));
        AtomicInteger acked = new AtomicInteger();
        List<String> errors = Collections.synchronizedList(new ArrayList<>());
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (long i = args.start; i < args.start + args.count; i++) {
                final long n = i;
                Long timestamp = args.timestampBase == null ? null : args.timestampBase + i;
                ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(
                        args.topic, args.partition, timestamp, key(i), value(i));
                producer.send(record, (metadata, exception) -> {
                    if (exception != null) {
                        errors.add("record " + n + ": " + describe(exception));
                        return;
                    }
                    acked.incrementAndGet();
                    // -1 when the broker does not say (acks=0).
                    long offset = metadata.offset() >= 0 ? metadata.offset() : -1;
                    Map<String, Object> line = new LinkedHashMap<>();
                    line.put("i", n);
                    line.put("partition", metadata.partition());
                    line.put("offset", offset);
                    emit(line);
                });
            }
            producer.flush();
        }
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("acked", acked.get());
        synchronized (errors) {
            summary.put("failed", errors.size());
            summary.put("errors", new ArrayList<>(errors.subList(0, Math.min(20, errors.size()))));
            emit(summary);
            return errors.isEmpty() ? 0 : 1;
        }
    }

    static byte[] key(long i) {
        return ("key-" + i).getBytes(StandardCharsets.UTF_8);
    }

    static byte[] value(long i) {
        return ("value-" + i).getBytes(StandardCharsets.UTF_8);
    }

    // ---- consuming by assignment -----------------------------------------

    /** A consumer without a group: assignment only, no commits. */
    private KafkaConsumer<byte[], byte[]> plainConsumer() {
        Properties p = new Properties();
        p.put("bootstrap.servers", args.bootstrap);
        p.put("enable.auto.commit", "false");
        p.put("request.timeout.ms", String.valueOf(TIMEOUT_S * 1000));
        p.put("default.api.timeout.ms", String.valueOf(TIMEOUT_S * 1000));
        return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    private void consume() {
        TopicPartition tp = new TopicPartition(args.topic, args.partition);
        try (KafkaConsumer<byte[], byte[]> c = plainConsumer()) {
            long high = c.endOffsets(List.of(tp), TIMEOUT).get(tp);
            long low = c.beginningOffsets(List.of(tp), TIMEOUT).get(tp);
            long start = "earliest".equals(args.offset) ? low : Long.parseLong(args.offset);
            c.assign(List.of(tp));
            c.seek(tp, start);
            long position = start;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_S);
            while (position < high) {
                if (System.nanoTime() > deadline) {
                    fail("only reached offset " + position + " of " + high + " in " + TIMEOUT_S + "s");
                }
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                    if (r.offset() >= high) {
                        break;
                    }
                    Map<String, Object> line = new LinkedHashMap<>();
                    line.put("offset", r.offset());
                    line.put("key", text(r.key()));
                    line.put("value", text(r.value()));
                    line.put("timestamp", r.timestamp());
                    emit(line);
                    position = r.offset() + 1;
                }
            }
            emit(Map.of("end", high));
        }
    }

    private void offsetsForTimes() {
        if (args.timestamp == null) {
            throw new IllegalArgumentException("--timestamp is required");
        }
        TopicPartition tp = new TopicPartition(args.topic, args.partition);
        try (KafkaConsumer<byte[], byte[]> c = plainConsumer()) {
            OffsetAndTimestamp found = c.offsetsForTimes(Map.of(tp, args.timestamp), TIMEOUT).get(tp);
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("offset", found == null ? -1 : found.offset());
            line.put("timestamp", args.timestamp);
            emit(line);
        }
    }

    // ---- consuming in a group --------------------------------------------

    static String assignorClass(String name) {
        switch (name) {
            case "range": return "org.apache.kafka.clients.consumer.RangeAssignor";
            case "roundrobin": return "org.apache.kafka.clients.consumer.RoundRobinAssignor";
            case "sticky": return "org.apache.kafka.clients.consumer.StickyAssignor";
            case "cooperative-sticky": return "org.apache.kafka.clients.consumer.CooperativeStickyAssignor";
            default: throw new IllegalArgumentException("unknown assignor " + name);
        }
    }

    static List<Integer> partitionsOf(Collection<TopicPartition> partitions, String topic) {
        List<Integer> of = new ArrayList<>();
        for (TopicPartition tp : partitions) {
            if (tp.topic().equals(topic)) {
                of.add(tp.partition());
            }
        }
        Collections.sort(of);
        return of;
    }

    private void groupConsume() {
        if (args.group == null) {
            throw new IllegalArgumentException("--group is required");
        }
        Properties p = new Properties();
        p.put("bootstrap.servers", args.bootstrap);
        p.put("group.id", args.group);
        p.put("enable.auto.commit", "false");
        p.put("auto.offset.reset", "earliest");
        p.put("session.timeout.ms", String.valueOf(args.sessionTimeoutMs));
        p.put("heartbeat.interval.ms", "1000");
        p.put("partition.assignment.strategy", assignorClass(args.assignor));
        p.put("default.api.timeout.ms", String.valueOf(TIMEOUT_S * 1000));
        if (args.groupInstanceId != null) {
            p.put("group.instance.id", args.groupInstanceId);
        }
        KafkaConsumer<byte[], byte[]> c =
                new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        c.subscribe(List.of(args.topic), new ConsumerRebalanceListener() {
            @Override
            public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                if (!partitions.isEmpty()) {
                    emit(Map.of("revoked", partitionsOf(partitions, args.topic)));
                }
            }

            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> added) {
                // The whole assignment, also when a cooperative rebalance
                // only added to it (or added nothing).
                ConsumerGroupMetadata group = c.groupMetadata();
                Map<String, Object> line = new LinkedHashMap<>();
                line.put("assigned", partitionsOf(c.assignment(), args.topic));
                line.put("generation", group.generationId());
                line.put("member_id", group.memberId());
                emit(line);
            }
        });
        GroupConsumption run = new GroupConsumption(args);
        outer:
        while (!run.done()) {
            // Partitions rewound in this poll: the rest of their records
            // in it are read again later, not now.
            Set<TopicPartition> rewound = new HashSet<>();
            for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                if (rewound.contains(tp)) {
                    continue;
                }
                boolean committed;
                try {
                    c.commitSync(Map.of(tp, new OffsetAndMetadata(r.offset() + 1)), TIMEOUT);
                    committed = true;
                } catch (KafkaException e) {
                    System.err.println("commit of " + tp + "@" + r.offset() + " failed: " + describe(e));
                    committed = false;
                    // A cooperative rebalance may leave the partition with
                    // this member: read the record again, as its next owner
                    // would, so that every record is committed by a reader.
                    if (c.assignment().contains(tp)) {
                        c.seek(tp, r.offset());
                        rewound.add(tp);
                    }
                }
                Map<String, Object> line = new LinkedHashMap<>();
                line.put("partition", r.partition());
                line.put("offset", r.offset());
                line.put("key", text(r.key()));
                line.put("value", text(r.value()));
                line.put("committed", committed);
                emit(line);
                run.record(committed);
                if (run.done()) {
                    break outer;
                }
            }
        }
        c.close(TIMEOUT);
        emit(Map.of("consumed", run.committed));
    }

    /** The stop rules of group-consume (GroupConsumption in common.py). */
    static final class GroupConsumption {
        final Args args;
        int committed;
        Long lastRecord;
        final long deadline;

        GroupConsumption(Args args) {
            this.args = args;
            this.deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(args.maxSecs);
        }

        void record(boolean committed) {
            lastRecord = System.nanoTime();
            if (committed) {
                this.committed++;
            }
            if (args.crashAfter > 0 && this.committed >= args.crashAfter) {
                // Gone without a word to the group, as if killed.
                emit(Map.of("crashed", this.committed));
                System.out.flush();
                Runtime.getRuntime().halt(0);
            }
        }

        boolean done() {
            if (args.exitAfter > 0 && committed >= args.exitAfter) {
                return true;
            }
            long now = System.nanoTime();
            if (lastRecord != null && now - lastRecord > TimeUnit.MILLISECONDS.toNanos(args.idleMs)) {
                return true;
            }
            if (now > deadline) {
                fail("still consuming after " + args.maxSecs + "s (" + committed + " committed)");
            }
            return false;
        }
    }

    // ---- administration --------------------------------------------------

    private Admin admin() {
        Properties p = new Properties();
        p.put("bootstrap.servers", args.bootstrap);
        p.put("request.timeout.ms", String.valueOf(TIMEOUT_S * 1000));
        p.put("default.api.timeout.ms", String.valueOf(TIMEOUT_S * 1000));
        return Admin.create(p);
    }

    private void createTopic() throws Exception {
        NewTopic topic = new NewTopic(args.topic, args.partitions, (short) args.replicationFactor);
        if (!args.configs.isEmpty()) {
            topic.configs(args.configs);
        }
        try (Admin admin = admin()) {
            get(admin.createTopics(List.of(topic)).all());
        }
        emit(Map.of("created", args.topic));
    }

    private void deleteTopic() throws Exception {
        try (Admin admin = admin()) {
            get(admin.deleteTopics(List.of(args.topic)).all());
        }
        emit(Map.of("deleted", args.topic));
    }

    private void metadata() throws Exception {
        Map<String, Object> line = new LinkedHashMap<>();
        try (Admin admin = admin()) {
            line.put("brokers", nodes(get(admin.describeCluster().nodes())));
        }
        Map<String, Object> topics = new TreeMap<>();
        try (KafkaConsumer<byte[], byte[]> c = plainConsumer()) {
            for (Map.Entry<String, List<PartitionInfo>> t : c.listTopics(TIMEOUT).entrySet()) {
                topics.put(t.getKey(), t.getValue().size());
            }
        }
        line.put("topics", topics);
        emit(line);
    }

    static List<Map<String, Object>> nodes(Collection<Node> nodes) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Node n : nodes) {
            out.add(node(n));
        }
        out.sort((a, b) -> Integer.compare((Integer) a.get("id"), (Integer) b.get("id")));
        return out;
    }

    static Map<String, Object> node(Node n) {
        Map<String, Object> b = new LinkedHashMap<>();
        b.put("id", n.id());
        b.put("host", n.host());
        b.put("port", n.port());
        return b;
    }

    private void describeCluster() throws Exception {
        try (Admin admin = admin()) {
            DescribeClusterResult cluster = admin.describeCluster();
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("cluster_id", get(cluster.clusterId()));
            Node controller = get(cluster.controller());
            line.put("controller", controller == null ? null : controller.id());
            line.put("brokers", nodes(get(cluster.nodes())));
            emit(line);
        }
    }

    private ConfigResource topicResource() {
        return new ConfigResource(ConfigResource.Type.TOPIC, args.topic);
    }

    /** The topic's overrides (DYNAMIC_TOPIC_CONFIG), as DescribeConfigs reports them. */
    private Map<String, String> topicOverrides(Admin admin) throws Exception {
        ConfigResource resource = topicResource();
        Config config = get(admin.describeConfigs(List.of(resource)).all()).get(resource);
        Map<String, String> overrides = new TreeMap<>();
        for (ConfigEntry entry : config.entries()) {
            if (entry.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG) {
                overrides.put(entry.name(), entry.value());
            }
        }
        return overrides;
    }

    private void alterConfigs() throws Exception {
        List<ConfigEntry> entries = new ArrayList<>();
        for (Map.Entry<String, String> kv : args.configs.entrySet()) {
            entries.add(new ConfigEntry(kv.getKey(), kv.getValue()));
        }
        try (Admin admin = admin()) {
            // Admin.alterConfigs(Map<ConfigResource, Config>) was removed in
            // kafka-clients 4.0 (deprecated since 2.3 for the incremental one).
            Method alter;
            try {
                alter = Admin.class.getMethod("alterConfigs", Map.class);
            } catch (NoSuchMethodException e) {
                throw new UnsupportedOperationException("this kafka-clients has no Admin.alterConfigs");
            }
            Object result;
            try {
                result = alter.invoke(admin, Map.of(topicResource(), new Config(entries)));
            } catch (InvocationTargetException e) {
                throw e.getCause() instanceof Exception ? (Exception) e.getCause() : e;
            }
            KafkaFuture<?> all = (KafkaFuture<?>) result.getClass().getMethod("all").invoke(result);
            get(all);
            emit(Map.of("overrides", topicOverrides(admin)));
        }
    }

    private void incrementalAlterConfigs() throws Exception {
        List<AlterConfigOp> ops = new ArrayList<>();
        for (Map.Entry<String, String> kv : args.configs.entrySet()) {
            ops.add(new AlterConfigOp(new ConfigEntry(kv.getKey(), kv.getValue()), AlterConfigOp.OpType.SET));
        }
        for (String name : args.deleteConfigs) {
            ops.add(new AlterConfigOp(new ConfigEntry(name, null), AlterConfigOp.OpType.DELETE));
        }
        try (Admin admin = admin()) {
            get(admin.incrementalAlterConfigs(Map.of(topicResource(), ops)).all());
            emit(Map.of("overrides", topicOverrides(admin)));
        }
    }

    private void describeConfigs() throws Exception {
        ConfigResource resource = args.broker == null
                ? topicResource()
                : new ConfigResource(ConfigResource.Type.BROKER, args.broker);
        try (Admin admin = admin()) {
            Config config = get(admin.describeConfigs(List.of(resource)).all()).get(resource);
            Map<String, Object> configs = new TreeMap<>();
            for (ConfigEntry entry : config.entries()) {
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("value", entry.isSensitive() ? null : entry.value());
                e.put("source", entry.source().name());
                e.put("read_only", entry.isReadOnly());
                e.put("sensitive", entry.isSensitive());
                List<Map<String, Object>> synonyms = new ArrayList<>();
                for (ConfigEntry.ConfigSynonym s : entry.synonyms()) {
                    Map<String, Object> syn = new LinkedHashMap<>();
                    syn.put("name", s.name());
                    syn.put("value", s.value());
                    syn.put("source", s.source().name());
                    synonyms.add(syn);
                }
                e.put("synonyms", synonyms);
                configs.put(entry.name(), e);
            }
            emit(Map.of("configs", configs));
        }
    }

    private String requireGroup() {
        if (args.group == null) {
            throw new IllegalArgumentException("--group is required");
        }
        return args.group;
    }

    private void listGroups() throws Exception {
        try (Admin admin = admin()) {
            List<Map<String, Object>> groups = new ArrayList<>();
            for (ConsumerGroupListing g : get(admin.listConsumerGroups().all())) {
                Map<String, Object> group = new LinkedHashMap<>();
                group.put("group", g.groupId());
                group.put("simple", g.isSimpleConsumerGroup());
                groups.add(group);
            }
            groups.sort((a, b) -> ((String) a.get("group")).compareTo((String) b.get("group")));
            emit(Map.of("groups", groups));
        }
    }

    private void describeGroup() throws Exception {
        String groupId = requireGroup();
        try (Admin admin = admin()) {
            ConsumerGroupDescription d =
                    get(admin.describeConsumerGroups(List.of(groupId)).all()).get(groupId);
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("group", d.groupId());
            line.put("state", String.valueOf(d.state()));
            line.put("assignor", d.partitionAssignor());
            line.put("simple", d.isSimpleConsumerGroup());
            line.put("coordinator", d.coordinator() == null ? null : d.coordinator().id());
            List<Map<String, Object>> members = new ArrayList<>();
            for (MemberDescription m : d.members()) {
                Map<String, Object> member = new LinkedHashMap<>();
                member.put("member_id", m.consumerId());
                member.put("instance_id", m.groupInstanceId().orElse(null));
                member.put("client_id", m.clientId());
                member.put("host", m.host());
                member.put("partitions", partitionsOf(m.assignment().topicPartitions(), args.topic));
                members.add(member);
            }
            members.sort((a, b) -> ((String) a.get("member_id")).compareTo((String) b.get("member_id")));
            line.put("members", members);
            emit(line);
        }
    }

    private Map<String, Object> groupOffsets(Admin admin, String groupId) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> offsets =
                get(admin.listConsumerGroupOffsets(groupId).partitionsToOffsetAndMetadata());
        Map<String, Object> out = new TreeMap<>((a, b) -> Integer.compare(Integer.parseInt(a), Integer.parseInt(b)));
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) {
            if (e.getKey().topic().equals(args.topic) && e.getValue() != null) {
                out.put(String.valueOf(e.getKey().partition()), e.getValue().offset());
            }
        }
        return out;
    }

    private void listGroupOffsets() throws Exception {
        String groupId = requireGroup();
        try (Admin admin = admin()) {
            emit(Map.of("offsets", groupOffsets(admin, groupId)));
        }
    }

    private void alterGroupOffsets() throws Exception {
        String groupId = requireGroup();
        TopicPartition tp = new TopicPartition(args.topic, args.partition);
        long offset = Long.parseLong(args.offset);
        try (Admin admin = admin()) {
            get(admin.alterConsumerGroupOffsets(groupId, Map.of(tp, new OffsetAndMetadata(offset))).all());
            emit(Map.of("offsets", groupOffsets(admin, groupId)));
        }
    }

    private void deleteGroupOffsets() throws Exception {
        String groupId = requireGroup();
        TopicPartition tp = new TopicPartition(args.topic, args.partition);
        try (Admin admin = admin()) {
            get(admin.deleteConsumerGroupOffsets(groupId, Set.of(tp)).all());
        }
        emit(Map.of("deleted_offsets", List.of(args.partition)));
    }

    private void deleteGroup() throws Exception {
        String groupId = requireGroup();
        try (Admin admin = admin()) {
            get(admin.deleteConsumerGroups(List.of(groupId)).all());
        }
        emit(Map.of("deleted_group", groupId));
    }

    private void removeMembers() throws Exception {
        String groupId = requireGroup();
        if (args.groupInstanceId == null) {
            throw new IllegalArgumentException("--group-instance-id is required");
        }
        try (Admin admin = admin()) {
            RemoveMembersFromConsumerGroupOptions options = new RemoveMembersFromConsumerGroupOptions(
                    List.of(new MemberToRemove(args.groupInstanceId)));
            get(admin.removeMembersFromConsumerGroup(groupId, options).all());
        }
        emit(Map.of("removed", args.groupInstanceId));
    }

    // ---- command line ----------------------------------------------------

    /** The options of common.py's parse_args, and this client's own. */
    static final class Args {
        String bootstrap;
        String topic;
        String mode;
        int acks = -1;
        long count;
        long start;
        Long timestampBase;
        int lingerMs = 5;
        int messageTimeoutMs = TIMEOUT_S * 1000;
        int partition;
        String offset = "earliest";
        Long timestamp;
        int partitions = 1;
        int replicationFactor = 1;
        String group;
        int exitAfter;
        int crashAfter;
        int idleMs = 5000;
        int maxSecs = 90;
        int sessionTimeoutMs = 10000;
        Map<String, String> configs = new LinkedHashMap<>();
        List<String> deleteConfigs = new ArrayList<>();
        String compression = "none";
        boolean idempotent;
        String assignor = "range";
        String groupInstanceId;
        String broker;

        static final Set<String> COMPRESSIONS = new TreeSet<>(List.of("none", "gzip", "snappy", "lz4", "zstd"));

        static Args parse(String[] argv) {
            Args a = new Args();
            List<String> positional = new ArrayList<>();
            for (int i = 0; i < argv.length; i++) {
                String arg = argv[i];
                if (!arg.startsWith("--")) {
                    positional.add(arg);
                    continue;
                }
                if (arg.equals("--idempotent")) {
                    a.idempotent = true;
                    continue;
                }
                if (i + 1 >= argv.length) {
                    throw new IllegalArgumentException(arg + " needs a value");
                }
                String v = argv[++i];
                switch (arg) {
                    case "--acks": a.acks = Integer.parseInt(v); break;
                    case "--count": a.count = Long.parseLong(v); break;
                    case "--start": a.start = Long.parseLong(v); break;
                    case "--timestamp-base": a.timestampBase = Long.parseLong(v); break;
                    case "--linger-ms": a.lingerMs = Integer.parseInt(v); break;
                    case "--message-timeout-ms": a.messageTimeoutMs = Integer.parseInt(v); break;
                    case "--partition": a.partition = Integer.parseInt(v); break;
                    case "--offset": a.offset = v; break;
                    case "--timestamp": a.timestamp = Long.parseLong(v); break;
                    case "--partitions": a.partitions = Integer.parseInt(v); break;
                    case "--replication-factor": a.replicationFactor = Integer.parseInt(v); break;
                    case "--group": a.group = v; break;
                    case "--exit-after": a.exitAfter = Integer.parseInt(v); break;
                    case "--crash-after": a.crashAfter = Integer.parseInt(v); break;
                    case "--idle-ms": a.idleMs = Integer.parseInt(v); break;
                    case "--max-secs": a.maxSecs = Integer.parseInt(v); break;
                    case "--session-timeout-ms": a.sessionTimeoutMs = Integer.parseInt(v); break;
                    case "--config": {
                        int eq = v.indexOf('=');
                        if (eq < 0) {
                            throw new IllegalArgumentException("--config " + v + " is not K=V");
                        }
                        a.configs.put(v.substring(0, eq), v.substring(eq + 1));
                        break;
                    }
                    case "--delete-config": a.deleteConfigs.add(v); break;
                    case "--compression":
                        if (!COMPRESSIONS.contains(v)) {
                            throw new IllegalArgumentException("--compression " + v);
                        }
                        a.compression = v;
                        break;
                    case "--assignor": assignorClass(v); a.assignor = v; break;
                    case "--group-instance-id": a.groupInstanceId = v; break;
                    case "--broker": a.broker = v; break;
                    default: throw new IllegalArgumentException("unknown option " + arg);
                }
            }
            if (positional.size() != 3) {
                throw new IllegalArgumentException("expected <bootstrap> <topic> <mode>, got " + positional);
            }
            a.bootstrap = positional.get(0);
            a.topic = positional.get(1);
            a.mode = positional.get(2);
            return a;
        }
    }

    // ---- JSON ------------------------------------------------------------

    /** Just enough of a JSON writer: maps, collections, strings, numbers, booleans, null. */
    static final class Json {
        static String write(Object value) {
            StringBuilder out = new StringBuilder();
            write(out, value);
            return out.toString();
        }

        static void write(StringBuilder out, Object value) {
            if (value == null) {
                out.append("null");
            } else if (value instanceof String) {
                string(out, (String) value);
            } else if (value instanceof Number || value instanceof Boolean) {
                out.append(value);
            } else if (value instanceof Map) {
                out.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
                    if (!first) {
                        out.append(", ");
                    }
                    first = false;
                    string(out, String.valueOf(e.getKey()));
                    out.append(": ");
                    write(out, e.getValue());
                }
                out.append('}');
            } else if (value instanceof Collection) {
                out.append('[');
                boolean first = true;
                for (Object item : (Collection<?>) value) {
                    if (!first) {
                        out.append(", ");
                    }
                    first = false;
                    write(out, item);
                }
                out.append(']');
            } else {
                string(out, value.toString());
            }
        }

        static void string(StringBuilder out, String s) {
            out.append('"');
            for (int i = 0; i < s.length(); i++) {
                char ch = s.charAt(i);
                switch (ch) {
                    case '"': out.append("\\\""); break;
                    case '\\': out.append("\\\\"); break;
                    case '\n': out.append("\\n"); break;
                    case '\r': out.append("\\r"); break;
                    case '\t': out.append("\\t"); break;
                    default:
                        if (ch < 0x20) {
                            out.append(String.format("\\u%04x", (int) ch));
                        } else {
                            out.append(ch);
                        }
                }
            }
            out.append('"');
        }
    }
}
