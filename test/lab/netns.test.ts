/**
 * The namespace primitives every lab test stands on: created with the project prefix and a run
 * id, torn down completely (processes included), nothing left in `ip netns list`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NamespaceSet, listNetns, NS_PREFIX } from '../../src/lab/netns.js';
import { exec } from '../../src/util/exec.js';

test('a namespace set is created with the prefix and run id, and destroy leaves nothing behind', async () => {
  const set = await NamespaceSet.create(['a', 'b']);
  try {
    assert.match(set.ns('a'), new RegExp(`^${NS_PREFIX}[0-9a-f]{6}-a$`));
    const now = await listNetns();
    assert.ok(now.includes(set.ns('a')) && now.includes(set.ns('b')));
    await set.ip('a', ['link add veth0 type veth peer name veth1', 'link set veth1 netns ' + set.ns('b')]);
    const r = await set.exec('b', ['ip', '-br', 'link', 'show', 'veth1']);
    assert.match(r.stdout, /^veth1@/);
    // A process left running inside the namespace is ended on destroy.
    const child = set.spawn('a', ['sleep', '300']);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let inside = '';
    for (let i = 0; i < 100 && !inside.trim(); i++) {
      inside = (await exec(['ip', 'netns', 'pids', set.ns('a')])).stdout;
      if (!inside.trim()) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(inside.trim().length > 0, 'the spawned process runs inside the namespace');
    await set.destroy();
    await exited;
  } finally {
    await set.destroy();
  }
  // Only this run's namespaces are compared: anything else on the host is not ours to judge.
  assert.deepEqual((await listNetns()).filter((n) => n.includes(set.runId)), []);
});
