// The Overview against live traffic: totals count the lapin connections and queues,
// the listeners list the AMQP port, the rate chart's legend shows the deliver rate of
// the Rust test's consumer, and a memory alarm (raised by the test) is shown in red.
// Input (env): CONNECTIONS, QUEUES, AMQP_PORT.
import { check, login, newPage, run } from './lib.mjs';

const { CONNECTIONS, QUEUES, AMQP_PORT } = process.env;

run(async (context) => {
  const page = await newPage(context);
  await login(page, 'guest', 'guest');
  await page.waitForSelector(`li[data-total=connections] .n:text-is("${CONNECTIONS}")`);
  check(true, `the totals count ${CONNECTIONS} connections`);
  await page.waitForSelector(`li[data-total=queues] .n:text-is("${QUEUES}")`);
  check(true, `the totals count ${QUEUES} queues`);
  await page.waitForSelector(`table.data td:text-is("${AMQP_PORT}")`);
  check(true, `the listeners show the AMQP port ${AMQP_PORT}`);
  // Rates are sampled every second here and the page refreshes every 5 s: wait for a
  // non-zero deliver rate in the legend (a consumer works through a backlog).
  const legend = 'figure.chart:has(figcaption:text-is("Message rates")) .chart-legend li:nth-child(2)';
  check((await page.textContent(legend)).startsWith('Deliver'), 'the second series is Deliver');
  const deliver = page.locator(`${legend} .legend-value`);
  await page.locator(`${legend} .legend-value:not(:text-is("0/s"))`).waitFor({ timeout: 30000 });
  check(true, `the message rate chart shows a deliver rate of ${await deliver.textContent()}`);
  await page.waitForSelector('figure.chart:has(figcaption:text-is("Message rates")) path.chart-line.series-1[d*="L"]');
  check(true, 'the deliver line is drawn once a second sample arrives');

  const alarm = page.locator('.alarms .alert-error');
  await alarm.waitFor();
  check((await alarm.textContent()).includes('Memory alarm'), 'the memory alarm is announced');
  const colour = await alarm.evaluate((el) => getComputedStyle(el).color);
  const [r, g, b] = colour.match(/\d+/g).map(Number);
  check(r > 120 && g < 60 && b < 60, `the alarm is red (${colour})`);
  check(await page.locator('.gauge.alarm .alarm-text').count() === 1, 'the memory gauge is marked ALARM');
});
