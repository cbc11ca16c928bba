// A queue page's message forms: publish (through the default exchange, so it lands in
// this queue) and get messages (ack mode, body as text or base64).

import { api, path } from '../api.js';
import { h, replace, field, fmtNum, dl, notify, showError } from '../dom.js';

/** The "Publish message" form. */
export function publishForm(vhost, queue, done) {
  const mode = h('select', { name: 'delivery_mode' },
    h('option', { value: '2' }, '2 – persistent'), h('option', { value: '1' }, '1 – non-persistent'));
  const headers = h('textarea', { name: 'headers', rows: 2, placeholder: '{"x-retry": 1}' });
  const props = h('textarea', { name: 'properties', rows: 2, placeholder: '{"content_type": "text/plain"}' });
  const payload = h('textarea', { name: 'payload', rows: 4 });
  const encoding = h('select', { name: 'payload_encoding' },
    h('option', { value: 'string' }, 'Text'), h('option', { value: 'base64' }, 'Base64'));
  const form = h('form', { class: 'panel', id: 'publish-form', 'aria-labelledby': 'publish-title' },
    h('h2', { id: 'publish-title' }, 'Publish message'),
    h('p', null, 'Published to the default exchange with this queue\'s name as routing key.'),
    field('Delivery mode', mode), field('Headers (JSON)', headers), field('Properties (JSON)', props),
    field('Payload', payload), field('Payload encoding', encoding),
    h('p', null, h('button', { type: 'submit' }, 'Publish message')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    let properties;
    try {
      properties = props.value.trim() ? JSON.parse(props.value) : {};
      if (headers.value.trim()) properties.headers = JSON.parse(headers.value);
    } catch {
      showError(new Error('Headers and properties must be JSON objects'));
      return;
    }
    properties.delivery_mode = Number(mode.value);
    try {
      const r = await api(path`/exchanges/${vhost}/amq.default/publish`, {
        method: 'POST',
        body: { properties, routing_key: queue, payload: payload.value, payload_encoding: encoding.value },
      });
      if (r && r.routed === false) showError(new Error('Message published, but not routed to any queue'));
      else notify('Message published');
      await done();
    } catch (err) {
      showError(err);
    }
  });
  return form;
}

/** The "Get messages" form and the messages it got. */
export function getForm(base, done) {
  const ackmode = h('select', { name: 'ackmode' },
    h('option', { value: 'ack_requeue_true' }, 'Nack, requeue'),
    h('option', { value: 'reject_requeue_true' }, 'Reject, requeue'),
    h('option', { value: 'ack_requeue_false' }, 'Ack (removes the message)'),
    h('option', { value: 'reject_requeue_false' }, 'Reject, no requeue (dead-letters it)'));
  const encoding = h('select', { name: 'encoding' },
    h('option', { value: 'auto' }, 'Text if it is text, else base64'), h('option', { value: 'base64' }, 'Base64'));
  const count = h('input', { name: 'count', type: 'number', min: 1, max: 100, value: '1' });
  const out = h('div', { id: 'got-messages', 'aria-live': 'polite' });
  const form = h('form', { class: 'panel', id: 'get-form', 'aria-labelledby': 'get-title' },
    h('h2', { id: 'get-title' }, 'Get messages'),
    field('Ack mode', ackmode), field('Encoding', encoding), field('Messages', count),
    h('p', null, h('button', { type: 'submit' }, 'Get messages')), out);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const msgs = await api(`${base}/get`, {
        method: 'POST',
        body: { count: Number(count.value) || 1, ackmode: ackmode.value, encoding: encoding.value, truncate: 50000 },
      });
      if (!msgs.length) {
        replace(out, h('p', { class: 'empty-result' }, 'Queue is empty.'));
      } else {
        replace(out, msgs.map((m, i) => h('article', { class: 'message' },
          h('h3', null, `Message ${i + 1}`),
          dl([
            ['Exchange', m.exchange || '(default exchange)'], ['Routing key', m.routing_key],
            ['Redelivered', m.redelivered ? 'yes' : 'no'], ['Left in queue', fmtNum(m.message_count)],
            ['Properties', JSON.stringify(m.properties || {})],
            ['Payload', `${fmtNum(m.payload_bytes)} bytes, encoded as ${m.payload_encoding}`],
          ]),
          h('pre', { class: 'payload' }, m.payload))));
      }
      await done();
    } catch (err) {
      showError(err);
    }
  });
  return form;
}
