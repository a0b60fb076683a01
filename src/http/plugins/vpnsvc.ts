/** The engine's facade, the spec and the host's facts as decorators every other plugin builds on. */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Vpnsvc } from '../../engine/vpnsvc.js';
import type { HostFacts } from '../context.js';
import type { Spec } from '../spec.js';

export interface VpnsvcPluginOptions {
  vpnsvc: Vpnsvc;
  spec: Spec;
  host: HostFacts;
}

async function vpnsvcPlugin(app: FastifyInstance, { vpnsvc, spec, host }: VpnsvcPluginOptions): Promise<void> {
  app.decorate('vpnsvc', vpnsvc);
  app.decorate('spec', spec);
  app.decorate('host', host);
}

export default fp(vpnsvcPlugin, { name: 'vpnsvc', fastify: '5.x' });
