// kafkajs as a gregor client, with the command line and JSON-lines output
// of ../python/common.py:
//   node kafkajs_client.js <bootstrap> <topic> <mode> [--option value ...]
// Modes: produce, consume, group-consume, offsets-for-times, create-topic,
// delete-topic, metadata.
//
// kafkajs's consumer only works through consumer groups (subscribe + run,
// no manual assignment). `group-consume` uses it so. `consume` reads one
// partition without a group: it drives the same code the kafkajs consumer
// uses below its group layer, the client's Cluster (reached through
// kafkajs's private createCluster factory) and Broker.fetch, which encodes
// Fetch and decodes record batches with kafkajs's own codecs.
'use strict';

const { Kafka, logLevel } = require('kafkajs');

const TIMEOUT_MS = 30000;

function parseArgs(argv) {
  const [bootstrap, topic, mode, ...rest] = argv;
  const opts = {
    acks: -1, count: 0, start: 0, timestampBase: null, lingerMs: 5, messageTimeoutMs: 0,
    partition: 0, offset: 'earliest', timestamp: null, partitions: 1, replicationFactor: 1,
    group: null, exitAfter: 0, crashAfter: 0, idleMs: 5000, maxSecs: 90, sessionTimeoutMs: 10000,
  };
  for (let i = 0; i < rest.length; i += 2) {
    const name = rest[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    // --linger-ms and --message-timeout-ms are accepted and ignored: a send()
    // is one batch in kafkajs, bounded by TIMEOUT_MS.
    if (!(name in opts)) throw new Error(`unknown option ${rest[i]}`);
    opts[name] = name === 'offset' || name === 'group' ? rest[i + 1] : Number(rest[i + 1]);
  }
  return { bootstrap, topic, mode, opts };
}

const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

function client(bootstrap) {
  return new Kafka({
    clientId: 'gregor-tests',
    brokers: [bootstrap],
    logLevel: logLevel.ERROR,
    requestTimeout: TIMEOUT_MS,
    connectionTimeout: 10000,
    retry: { retries: 2 },
  });
}

async function produce(kafka, topic, o) {
  const producer = kafka.producer({ allowAutoTopicCreation: true, retry: { retries: 0 } });
  await producer.connect();
  const messages = [];
  for (let i = o.start; i < o.start + o.count; i++) {
    const m = { key: `key-${i}`, value: `value-${i}`, partition: o.partition };
    if (o.timestampBase !== null) m.timestamp = String(o.timestampBase + i);
    messages.push(m);
  }
  // One request: kafkajs sends each send() as one batch per partition.
  const results = await producer.send({ topic, acks: o.acks, timeout: TIMEOUT_MS, messages });
  // kafkajs reports the base offset of each partition's batch (nothing for
  // acks=0); record i got base + (i - start).
  const base = new Map(results.map((r) => [r.partition, r.baseOffset]));
  for (let i = o.start; i < o.start + o.count; i++) {
    const b = base.get(o.partition);
    const offset = b === undefined || Number(b) < 0 ? -1 : Number(b) + (i - o.start);
    emit({ i, partition: o.partition, offset });
  }
  await producer.disconnect();
  emit({ acked: o.count, failed: 0, errors: [] });
}

async function lowLevelCluster(kafka) {
  const sym = Object.getOwnPropertySymbols(kafka)
    .find((s) => s.description === 'private:Kafka:createCluster');
  if (!sym) throw new Error('kafkajs internals changed: no createCluster');
  const cluster = kafka[sym]({ allowAutoTopicCreation: false });
  await cluster.connect();
  return cluster;
}

async function consume(kafka, topic, o) {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const p = offsets.find((x) => x.partition === o.partition);
  const high = Number(p.high);
  let position = o.offset === 'earliest' ? Number(p.low) : Number(o.offset);

  const cluster = await lowLevelCluster(kafka);
  await cluster.addTargetTopic(topic);
  const meta = cluster.findTopicPartitionMetadata(topic).find((x) => x.partitionId === o.partition);
  const broker = await cluster.findBroker({ nodeId: String(meta.leader) });
  const deadline = Date.now() + TIMEOUT_MS;
  while (position < high) {
    if (Date.now() > deadline) throw new Error(`only reached offset ${position} of ${high}`);
    const response = await broker.fetch({
      replicaId: -1,
      isolationLevel: 1,
      maxWaitTime: 500,
      minBytes: 1,
      maxBytes: 10485760,
      topics: [{ topic, partitions: [{ partition: o.partition, fetchOffset: String(position), maxBytes: 1048576 }] }],
    });
    for (const t of response.responses) {
      for (const part of t.partitions) {
        if (part.errorCode !== 0) throw new Error(`fetch error code ${part.errorCode}`);
        for (const m of part.messages) {
          const offset = Number(m.offset);
          // A fetch answers whole batches: skip records before the position.
          if (offset < position) continue;
          emit({
            offset,
            key: m.key === null ? null : m.key.toString(),
            value: m.value === null ? null : m.value.toString(),
            timestamp: Number(m.timestamp),
          });
          position = offset + 1;
        }
      }
    }
  }
  await cluster.disconnect();
  emit({ end: high });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// group-consume, with the stop rules of common.GroupConsumption.
async function groupConsume(kafka, topic, o) {
  const consumer = kafka.consumer({
    groupId: o.group,
    sessionTimeout: o.sessionTimeoutMs,
    heartbeatInterval: 1000,
    allowAutoTopicCreation: false,
  });
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    emit({ assigned: [...(e.payload.memberAssignment[topic] || [])].sort((a, b) => a - b) });
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let committed = 0;
  let lastRecord = null;
  const enough = () => o.exitAfter > 0 && committed >= o.exitAfter;
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      // Past the limit: neither reported nor committed, so the group's next
      // owner of the partition reads it.
      if (enough()) return;
      const offset = Number(message.offset);
      let ok = true;
      try {
        await consumer.commitOffsets([{ topic, partition, offset: String(offset + 1) }]);
      } catch (e) {
        ok = false;
      }
      emit({
        partition,
        offset,
        key: message.key === null ? null : message.key.toString(),
        value: message.value === null ? null : message.value.toString(),
        committed: ok,
      });
      lastRecord = Date.now();
      if (ok) committed += 1;
      if (o.crashAfter > 0 && committed >= o.crashAfter) {
        // Gone without leaving the group, as if killed.
        emit({ crashed: committed });
        exitAfterFlush(0);
      }
    },
  });
  const deadline = Date.now() + o.maxSecs * 1000;
  while (!enough() && !(lastRecord !== null && Date.now() - lastRecord > o.idleMs)) {
    if (Date.now() > deadline) {
      throw new Error(`still consuming after ${o.maxSecs}s (${committed} committed)`);
    }
    await sleep(100);
  }
  await consumer.disconnect();
  emit({ consumed: committed });
}

async function offsetsForTimes(kafka, topic, o) {
  const admin = kafka.admin();
  await admin.connect();
  const result = await admin.fetchTopicOffsetsByTimestamp(topic, o.timestamp);
  const p = result.find((x) => x.partition === o.partition);
  emit({ offset: Number(p.offset), timestamp: o.timestamp });
  await admin.disconnect();
}

async function createTopic(kafka, topic, o) {
  const admin = kafka.admin();
  await admin.connect();
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions: o.partitions, replicationFactor: o.replicationFactor }],
    timeout: TIMEOUT_MS,
  });
  if (!created) throw new Error(`createTopics: ${topic} already exists`);
  await admin.disconnect();
  emit({ created: topic });
}

async function deleteTopic(kafka, topic) {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic], timeout: TIMEOUT_MS });
  await admin.disconnect();
  emit({ deleted: topic });
}

async function metadata(kafka) {
  const admin = kafka.admin();
  await admin.connect();
  const cluster = await admin.describeCluster();
  const names = await admin.listTopics();
  const { topics } = await admin.fetchTopicMetadata({ topics: names });
  await admin.disconnect();
  emit({
    brokers: cluster.brokers.map((b) => ({ id: b.nodeId, host: b.host, port: b.port })),
    topics: Object.fromEntries(topics.map((t) => [t.name, t.partitions.length])),
  });
}

const MODES = {
  produce,
  consume,
  'group-consume': groupConsume,
  'offsets-for-times': offsetsForTimes,
  'create-topic': createTopic,
  'delete-topic': deleteTopic,
  metadata,
};

async function main() {
  const { bootstrap, topic, mode, opts } = parseArgs(process.argv.slice(2));
  if (!MODES[mode]) throw new Error(`unknown mode ${mode}`);
  await MODES[mode](client(bootstrap), topic, opts);
}

// process.exit() drops stdout writes still queued on a pipe (a reader slower
// than us, e.g. on a loaded machine, would see the output cut short): exit
// only once everything written so far has been handed to the OS.
const exitAfterFlush = (code) => process.stdout.write('', () => process.exit(code));

main().then(
  () => exitAfterFlush(0),
  (e) => {
    const message = `${e.name}: ${e.message}${e.type ? ` (${e.type})` : ''}`;
    emit({ error: message });
    console.error(e);
    exitAfterFlush(1);
  },
);
