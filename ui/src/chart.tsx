/**
 * The throughput chart: uPlot (about 50 kB, canvas, no dependencies) draws bits/s on the left
 * axis and packets/s on the right, for the last minutes of counter samples.
 */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatRate, type Rate } from './state';

export function ThroughputChart({ rates }: { rates: Rate[] }) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);

  useEffect(() => {
    const el = host.current;
    if (!el) return undefined;
    const width = () => Math.max(280, el.clientWidth);
    plot.current = new uPlot(
      {
        width: width(),
        height: 220,
        scales: { x: { time: true }, bps: { auto: true }, pps: { auto: true } },
        // The caption below states the latest rates; the legend would only repeat them.
        legend: { show: false },
        axes: [
          {},
          { scale: 'bps', values: (_u, ticks) => ticks.map((v) => formatRate(v)), size: 70 },
          { scale: 'pps', side: 1, values: (_u, ticks) => ticks.map((v) => `${v} p/s`), grid: { show: false }, size: 60 },
        ],
        series: [
          {},
          { label: 'rx bits/s', scale: 'bps', stroke: '#1f6feb', width: 2, value: (_u, v) => (v == null ? '–' : formatRate(v)) },
          { label: 'tx bits/s', scale: 'bps', stroke: '#d1242f', width: 2, value: (_u, v) => (v == null ? '–' : formatRate(v)) },
          { label: 'rx pkt/s', scale: 'pps', stroke: '#1f6feb', dash: [4, 4], value: (_u, v) => (v == null ? '–' : v.toFixed(0)) },
          { label: 'tx pkt/s', scale: 'pps', stroke: '#d1242f', dash: [4, 4], value: (_u, v) => (v == null ? '–' : v.toFixed(0)) },
        ],
      },
      [[], [], [], [], []],
      el,
    );
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: width(), height: 220 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = undefined;
    };
  }, []);

  useEffect(() => {
    plot.current?.setData([
      rates.map((r) => r.t),
      rates.map((r) => r.rxBps),
      rates.map((r) => r.txBps),
      rates.map((r) => r.rxPps),
      rates.map((r) => r.txPps),
    ]);
  }, [rates]);

  const last = rates.at(-1);
  return (
    <figure class="chart">
      <div ref={host} data-testid="throughput-chart" data-samples={rates.length} role="img" aria-label="Throughput over the last minutes" />
      <figcaption data-testid="throughput-now">
        {last
          ? `now: rx ${formatRate(last.rxBps)} (${last.rxPps.toFixed(0)} pkt/s), tx ${formatRate(last.txBps)} (${last.txPps.toFixed(0)} pkt/s)`
          : 'waiting for counter samples…'}
      </figcaption>
    </figure>
  );
}
