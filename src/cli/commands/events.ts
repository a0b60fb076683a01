/** `vpnsvc events`: the live event stream. */
import type { CliCommand } from '../command.js';
import { followEvents } from '../follow-events.js';

const events: CliCommand = {
  words: ['events'],
  summary: 'follow live events (reconnects and resumes)',
  operations: ['GET /events'],
  options: {
    since: { type: 'string', value: '<seq>', description: 'start after this event number' },
    types: { type: 'string', value: '<type,...>', description: 'only these event types or prefixes (interface,dns)' },
    counters: { type: 'string', value: '<ms>', description: 'also counters every so many milliseconds' },
    'no-follow': { type: 'boolean', description: 'print the history and exit' },
  },
  run: (ctx, p) =>
    followEvents(ctx, {
      ...(p.values.since !== undefined && { since: Number(p.values.since) }),
      ...(p.values.types !== undefined && { types: String(p.values.types) }),
      countersMs: p.values.counters === undefined ? 0 : Number(p.values.counters),
      follow: !p.values['no-follow'],
    }),
};

export const eventCommands: CliCommand[] = [events];
