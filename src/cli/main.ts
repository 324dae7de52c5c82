#!/usr/bin/env node
// kube-lb-provisioner: one binary, one subcommand per role, each in its own file. Only the chosen
// subcommand's module is loaded, so the speaker does not pay for the controller's and clouds' code.
import { Command } from 'commander';

const subcommands: Record<string, () => Promise<Command>> = {
  controller: async () => (await import('./controllerCommand.js')).controllerCommand(),
  speaker: async () => (await import('./speakerCommand.js')).speakerCommand(),
  apiserver: async () => (await import('./apiserverCommand.js')).apiserverCommand(),
  playground: async () => (await import('./playgroundCommand.js')).playgroundCommand(),
  plan: async () => (await import('./planCommand.js')).planCommand(),
};

const program = new Command('kube-lb-provisioner')
  .description('Provisions load balancers for Kubernetes Services of type LoadBalancer')
  .showHelpAfterError();

const chosen = process.argv[2];
const load = chosen !== undefined && Object.hasOwn(subcommands, chosen) ? [subcommands[chosen]!] : Object.values(subcommands);
for (const make of load) program.addCommand(await make());

await program.parseAsync(process.argv);
