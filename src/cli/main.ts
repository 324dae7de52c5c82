#!/usr/bin/env node
// kube-lb-provisioner: one binary, one subcommand per role. Each subcommand lives in its own file.
import { Command } from 'commander';
import { controllerCommand } from './controllerCommand.js';
import { planCommand } from './planCommand.js';
import { playgroundCommand } from './playgroundCommand.js';
import { speakerCommand } from './speakerCommand.js';
import { apiserverCommand } from './apiserverCommand.js';

const program = new Command('kube-lb-provisioner')
  .description('Provisions load balancers for Kubernetes Services of type LoadBalancer')
  .showHelpAfterError();

// Subcommands register themselves here: program.addCommand(fooCommand()).
program.addCommand(speakerCommand());
program.addCommand(apiserverCommand());
program.addCommand(controllerCommand());
program.addCommand(playgroundCommand());
program.addCommand(planCommand());

await program.parseAsync(process.argv);
