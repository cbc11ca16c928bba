#!/usr/bin/env node
// Task-queue worker (amqplib): takes tasks from the durable queue `tasks` with a prefetch
// window (default 1, so a slow worker does not hoard them), does each one and only then
// acknowledges it, so a task whose worker dies is redelivered to another. Start several
// to share the work. It runs until interrupted (Ctrl-C), or with --idle-timeout S until
// no task has come for S seconds; then it prints "worker did N tasks (…)". With
// --record FILE it also writes the id of each task it did to FILE, one a line (tests
// use it to check that every task was done exactly once).
//
//   npm ci                                   # in examples/node, once
//   node examples/node/worker.js [--url amqp://guest:guest@127.0.0.1:5672/%2f] [--prefetch 1]
//
// Pairs with producer.js; runs unchanged against Warren and RabbitMQ.
const fs = require('node:fs');
const { setTimeout: sleep } = require('node:timers/promises');
const { parseArgs } = require('node:util');
const amqp = require('amqplib');

async function main() {
  const { values: args } = parseArgs({
    options: {
      url: { type: 'string', default: 'amqp://guest:guest@127.0.0.1:5672/%2f' },
      queue: { type: 'string', default: 'tasks' },
      prefetch: { type: 'string', default: '1' },
      'work-ms': { type: 'string', default: '5' },
      'idle-timeout': { type: 'string', default: '0' },
      record: { type: 'string' },
    },
  });
  const workMs = Number.parseInt(args['work-ms'], 10);
  const idleMs = Number.parseFloat(args['idle-timeout']) * 1000;
  const record = args.record ? fs.openSync(args.record, 'w') : null;

  const conn = await amqp.connect(args.url);
  const ch = await conn.createChannel();
  await ch.assertQueue(args.queue, { durable: true });
  await ch.prefetch(Number.parseInt(args.prefetch, 10));

  let done = 0;
  let redelivered = 0;
  let inHand = 0;
  let lastTask = Date.now();
  let finish;
  let cancelledByBroker = false;
  const finished = new Promise((resolve, reject) => {
    finish = resolve;
    // A channel or connection the broker or the network closes ends the worker with an error.
    ch.on('close', () => reject(new Error('channel closed')));
    ch.on('error', reject);
    conn.on('close', () => reject(new Error('connection closed')));
    conn.on('error', reject);
  });
  finished.catch(() => {}); // awaited below; this only marks it handled meanwhile
  const { consumerTag } = await ch.consume(
    args.queue,
    async (msg) => {
      if (msg === null) {
        cancelledByBroker = true;
        finish(); // the broker cancelled the consumer (the queue was deleted)
        return;
      }
      inHand += 1;
      lastTask = Date.now();
      if (msg.fields.redelivered) redelivered += 1;
      await sleep(workMs); // the work
      if (record) fs.writeSync(record, `${msg.properties.messageId}\n`);
      done += 1;
      ch.ack(msg);
      inHand -= 1;
      lastTask = Date.now();
    },
    { noAck: false },
  );
  if (idleMs > 0) {
    const timer = setInterval(() => {
      if (inHand === 0 && Date.now() - lastTask >= idleMs) finish();
    }, 100);
    finished.then(
      () => clearInterval(timer),
      () => clearInterval(timer),
    );
  }
  process.once('SIGINT', finish);
  process.once('SIGTERM', finish);

  await finished;
  // Stop taking tasks, then let those in hand be done and acked.
  if (!cancelledByBroker) await ch.cancel(consumerTag);
  while (inHand > 0) await sleep(10);
  ch.removeAllListeners('close');
  conn.removeAllListeners('close');
  await conn.close();
  if (record) fs.closeSync(record);
  console.log(`worker did ${done} tasks (${redelivered} redelivered)`);
}

main().catch((err) => {
  console.error(`worker failed: ${err.message}`);
  process.exit(1); // an open connection would keep the process alive
});
