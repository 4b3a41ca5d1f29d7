// Tests that deploy the synthesized stack share assemblies: scripts/lib/synth.ts reuses one when
// the same arguments were synthesized from the same sources (keyed by their content hash).
import path from 'node:path';

process.env.RIFFLE_SYNTH_CACHE ??= path.resolve(__dirname, '..', '..', 'node_modules', '.cache', 'riffle-synth');
