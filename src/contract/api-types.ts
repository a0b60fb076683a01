/** Shapes from openapi.yaml, named for the code that uses them. Never written by hand. */
import type { components, operations } from '../generated/api.js';

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
export type Route = Schemas['Route'];
export type RoutesAdded = Schemas['RoutesAdded'];
export type Dns = Schemas['Dns'];
export type NetworkPrefix = Schemas['NetworkPrefix'];
export type FirewallBlock = Schemas['FirewallBlock'];
export type FirewallState = Schemas['FirewallState'];
export type ProtectSocket = Schemas['ProtectSocket'];
export type FdTicketRequest = Schemas['FdTicketRequest'];
export type FdTicket = Schemas['FdTicket'];
export type VpnEvent = Schemas['Event'];
/** Every event type the spec lists (the enums of Event's oneOf). */
export type EventType = VpnEvent['type'];
/** The event of type T: the branch of Event's oneOf whose enum holds T (a branch may hold several). */
export type EventOf<T extends EventType> = VpnEvent extends infer E
  ? E extends { type: infer U }
    ? T extends U
      ? E
      : never
    : never
  : never;
export type EventData<T extends EventType> = EventOf<T>['data'];
export type EventReason = Schemas['EventReason'];
export type EventBacklog = Schemas['EventBacklog'];
export type EventStreamMessage = Schemas['EventStreamMessage'];
export type HelloMessage = Schemas['HelloMessage'];
export type EventsLostMessage = Schemas['EventsLostMessage'];
export type CountersMessage = Schemas['CountersMessage'];
export type ConfigDocument = Schemas['ConfigDocument'];
export type ConfigInterface = NonNullable<Schemas['ConfigInterface']>;
export type ConfigDns = Schemas['ConfigDns'];
export type ConfigFirewall = NonNullable<Schemas['ConfigFirewall']>;
export type ConfigStep = Schemas['ConfigStep'];
export type ConfigChange = Schemas['ConfigChange'];
export type ConfigResult = Schemas['ConfigResult'];
export type Profile = Schemas['Profile'];
export type ProfileList = Schemas['ProfileList'];
