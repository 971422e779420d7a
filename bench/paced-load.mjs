// Open-loop HTTP load for the benches that print an API's latency under a fixed request rate.
import http from 'node:http';

/**
 * Open-loop load at a steady rate: request k is due at start + k/rate and its latency is counted from then, so a
 * stall delays (and is charged to) every request due during it. autocannon's own rate mode is not used for this:
 * each connection fires its quota back to back at the start of every second, and its coordinated-omission
 * correction assumes a 1 ms interval (Math.ceil(1/rate)), which overstates the tail.
 */
export function paced(url, rate, seconds, pick) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const total = Math.round(rate * seconds);
  const latency = new Float64Array(total);
  // How late the generator itself sent each request: a starved client's lateness is in `latency` too, and this tells
  // it apart from the server's.
  const sendLag = new Float64Array(total);
  let done = 0;
  let errors = 0;
  const start = performance.now() + 20;
  return new Promise((resolve) => {
    const finish = (k, due, ok) => {
      latency[k] = performance.now() - due;
      if (!ok) errors++;
      if (++done === total) {
        agent.destroy();
        const quantile = (xs) => {
          const sorted = Array.from(xs).sort((a, b) => a - b);
          return (q) => sorted[Math.min(total - 1, Math.floor(q * total))];
        };
        const at = quantile(latency);
        const lag = quantile(sendLag);
        resolve({ requests: total, rate: total / ((performance.now() - start) / 1000), p50: at(0.5), p99: at(0.99), max: at(1), sendLagP99: lag(0.99), errors });
      }
    };
    const fire = (k) => {
      const due = start + (k * 1000) / rate;
      sendLag[k] = performance.now() - due;
      const { method, path, headers } = pick();
      const req = http.request(url + path, { agent, method, headers }, (res) => {
        res.resume();
        res.on('end', () => finish(k, due, res.statusCode < 300));
      });
      req.on('error', () => finish(k, due, false));
      req.end();
    };
    let next = 0;
    const tick = () => {
      while (next < total && start + (next * 1000) / rate <= performance.now()) fire(next++);
      if (next < total) setTimeout(tick, Math.max(0, start + (next * 1000) / rate - performance.now()));
    };
    setTimeout(tick, 20);
  });
}
