/** A config that uses every ruleset feature: tiers, sticky, rules with sets and ports, bypass, relay. */
import { threeLinks } from '../../plan/fixtures.js';

export function fullConfig() {
  return threeLinks({
    sets: { cdn: { elements: ['198.19.0.0/24', '2001:db8:ff::/48'] } },
    bypass: ['198.19.9.0/24', '2001:db8:99::/48'],
    policies: {
      balanced: { links: ['wan1', 'wan2', 'wan3'] },
      failover: { links: [{ link: 'wan1', tier: 1 }, { link: 'wan2', tier: 2 }], lastResort: 'blackhole' },
      sticky: { links: ['wan1', 'wan2'], sticky: 'source-dest' },
      big: { relay: 'stripe' },
    },
    rules: [
      { name: 'bulk', match: { proto: 'tcp', dstPort: 5201 }, policy: 'big' },
      { name: 'ssh', match: { proto: 'tcp', dstPort: [22, '6000-6010'] }, policy: 'sticky' },
      { name: 'cdn', match: { dst: ['@cdn'] }, policy: 'failover' },
      { name: 'rest', policy: 'balanced' },
    ],
    relay: { entries: [{ name: 'stripe', listen: '0.0.0.0:7000', exit: '198.19.0.20:7100', keyFile: '/k', paths: [{ link: 'wan1' }, { link: 'wan2' }] }] },
    routing: { defaultPolicy: 'balanced' },
  });
}
