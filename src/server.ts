#!/usr/bin/env node
/** The daemon's entry point: src/daemon/lifecycle.ts runs it, src/daemon/compose.ts builds it. */
import { runDaemon } from './daemon/lifecycle.js';

void runDaemon();
