#!/usr/bin/env node
// The `tied` bin. A committed file, not dist/bin.js itself: npm links a workspace's bins before
// `prepare` builds dist, and skips a bin whose file does not exist yet.
import '../dist/bin.js';
