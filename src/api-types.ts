/** Shapes from openapi.yaml, named for the code that uses them. Never written by hand. */
import type { components, operations } from './generated/api.js';

type Schemas = components['schemas'];

export type Interface = Schemas['Interface'];
export type InterfaceSettings = Schemas['InterfaceSettings'];
export type StagedSettings = Schemas['StagedSettings'];
export type Counters = Schemas['Counters'];
export type Session = Schemas['Session'];
export type Features = Schemas['Features'];
export type Health = Schemas['Health'];
export type ErrorBody = Schemas['Error'];
export type OperationId = keyof operations;
// --- issue 3: routes & dns ---
// --- issue 4: firewall & protect ---
// --- issue 5: data plane ---
// --- issue 6: operations ---
export type VpnEvent = Schemas['Event'];
export type EventReason = Schemas['EventReason'];
export type EventBacklog = Schemas['EventBacklog'];
