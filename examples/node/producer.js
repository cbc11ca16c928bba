#!/usr/bin/env node
// Task-queue producer (amqplib): publishes COUNT persistent tasks to the durable queue
// `tasks` on a ConfirmChannel, so each one is on the broker's disk once confirmed. It
// publishes as fast as the socket takes them (waiting for 'drain' when it pushes back),
// then waits for every confirm; publishes are mandatory, so a task no queue took comes
// back. Exits 1 if the broker nacked or returned any task.
//
//   npm ci                                   # in examples/node, once
//   node examples/node/producer.js [--url amqp://guest:guest@127.0.0.1:5672/%2f] [--count 100]
//
// Pairs with worker.js (start one or more); runs unchanged against Warren and RabbitMQ.
const { once } = require('node:events');
const { parseArgs } = require('node:util');
const amqp = require('amqplib');

async function main() {
  const { values: args } = parseArgs({
    options: {
      url: { type: 'string', default: 'amqp://guest:guest@127.0.0.1:5672/%2f' },
      count: { type: 'string', default: '100' },
      queue: { type: 'string', default: 'tasks' },
    },
  });
  const count = Number.parseInt(args.count, 10);
  const conn = await amqp.connect(args.url);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(args.queue, { durable: true });
  let confirmed = 0;
  let nacked = 0;
  let returned = 0;
  ch.on('return', () => {
    returned += 1;
  });
  for (let i = 0; i < count; i++) {
    const body = Buffer.from(JSON.stringify({ task: i, work: `resize photo ${i}` }));
    const options = {
      persistent: true,
      mandatory: true,
      messageId: `task-${i}`,
      contentType: 'application/json',
    };
    // The callback runs when the broker confirms (err null) or nacks (err set) this one.
    const flowing = ch.sendToQueue(args.queue, body, options, (err) => {
      if (err) nacked += 1;
      else confirmed += 1;
    });
    if (!flowing) await once(ch, 'drain');
  }
  try {
    await ch.waitForConfirms();
  } catch {
    // Counted per message above; waitForConfirms rejects if any was nacked.
  }
  console.log(
    `published ${count} tasks to ${args.queue}: ${confirmed} confirmed, ${nacked} nacked, ${returned} returned`,
  );
  await conn.close();
  return confirmed === count && nacked === 0 && returned === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`producer failed: ${err.message}`);
    process.exitCode = 1;
  },
);
