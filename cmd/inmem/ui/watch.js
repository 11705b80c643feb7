// in-mem run inspector: the version stream every tab of the inspector
// shares. A browser opens at most six connections to one server over
// HTTP/1.1, and an EventSource holds one for as long as it is open: with a
// stream per tab, the seventh tab's requests would wait forever. This
// shared worker holds the one stream and hands each message to every tab
// connected to it; it ends, and its stream with it, when the last tab
// does.
'use strict';

const ports = new Set();
let state = null; // the last 'open' or 'error', for tabs that connect later
let last = null; // the last version message's data

function send(msg) {
  for (const p of ports) p.postMessage(msg);
}

const es = new EventSource('/api/watch');
es.addEventListener('open', () => {
  state = { type: 'open' };
  send(state);
});
es.addEventListener('error', () => {
  state = { type: 'error' };
  send(state);
});
es.addEventListener('version', (ev) => {
  last = ev.data;
  send({ type: 'version', data: ev.data });
});

self.addEventListener('connect', (e) => {
  const port = e.ports[0];
  ports.add(port);
  port.addEventListener('message', (m) => {
    if (m.data === 'close') ports.delete(port); // the tab left
  });
  port.start();
  if (state) port.postMessage(state);
  if (last !== null) port.postMessage({ type: 'version', data: last });
});
