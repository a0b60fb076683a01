/** /profiles: named documents in the state directory, in JSON or YAML, and applying one. */
import type { FastifyInstance } from 'fastify';
import { stringify } from 'yaml';
import type { Handlers } from '../context.js';
import { configOptions } from './config.js';

type ProfileOperations = 'listProfiles' | 'getProfile' | 'saveProfile' | 'deleteProfile' | 'upProfile';

const YAML = 'application/yaml';

export function profileHandlers({ vpnsvc }: FastifyInstance): Pick<Handlers, ProfileOperations> {
  return {
    listProfiles: () => vpnsvc.listProfiles(),
    getProfile: (request, reply) => {
      const profile = vpnsvc.getProfile(request.params.name);
      if (!request.headers.accept?.includes(YAML)) return profile;
      // The reply's type knows only the JSON body; the YAML text is the same profile.
      return reply
        .code(200)
        .type(YAML)
        .send(stringify(profile) as never);
    },
    saveProfile: (request, reply) => {
      const { name } = request.params;
      const created = vpnsvc.saveProfile(name, request.body);
      return reply.code(created ? 201 : 200).send(vpnsvc.getProfile(name));
    },
    deleteProfile: async (request, reply) => {
      vpnsvc.deleteProfile(request.params.name);
      return reply.code(204).send();
    },
    upProfile: (request) => vpnsvc.upProfile(request.params.name, configOptions(request.query)),
  };
}
