import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { ChannelRefused, NoRoomForCommands, NotWanted, SessionSlots } from '../../src/ssh/session-slots';

/**
 * A fake server that grants up to `limit` sessions at once, answering each request on the next
 * tick in the order asked (as sshd does); a channel closes when the test says.
 */
function fakeServer(limit: number) {
  let open = 0;
  const channels: EventEmitter[] = [];
  return {
    channels,
    get open() {
      return open;
    },
    ask(): Promise<EventEmitter> {
      return new Promise((resolve, reject) =>
        setImmediate(() => {
          if (open >= limit) return reject(new ChannelRefused('(SSH) Channel open failure: open failed'));
          open++;
          const channel = new EventEmitter();
          channel.once('close', () => open--);
          channels.push(channel);
          resolve(channel);
        }),
      );
    },
  };
}

function slotsFor(reclaim: () => void = () => undefined) {
  const learned: number[] = [];
  const slots = new SessionSlots({ reclaim, learned: (limit) => learned.push(limit) });
  return { slots, learned };
}

describe('session slots: living within the sessions a server allows per connection', () => {
  it('learns the limit from the first refusal as the channels granted before it, and says so once', async () => {
    const server = fakeServer(2);
    const { slots, learned } = slotsFor();
    const asked = [1, 2, 3, 4].map(() => slots.take(() => server.ask(), { ahead: true }));
    const settled = await Promise.allSettled(asked);
    assert.deepEqual(
      settled.map((s) => s.status),
      ['fulfilled', 'fulfilled', 'rejected', 'rejected'],
    );
    for (const s of settled.slice(2)) assert.ok((s as PromiseRejectedResult).reason instanceof NotWanted);
    assert.equal(slots.limit, 2);
    assert.deepEqual(learned, [2]);
  });

  it('a request beyond the limit waits for a channel to close, and asks for an idle one meanwhile', async () => {
    const server = fakeServer(1);
    let reclaims = 0;
    const { slots } = slotsFor(() => reclaims++);
    const first = await slots.take(() => server.ask());
    await assert.rejects(
      slots.take(() => server.ask(), { ahead: true }),
      NotWanted,
    );
    assert.equal(slots.limit, 1);
    let second: EventEmitter | undefined;
    const waiting = slots.take(() => server.ask()).then((channel) => (second = channel));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(second, undefined, 'it waits');
    assert.ok(reclaims > 0, 'the owner was asked to close an idle channel');
    first.emit('close');
    await waiting;
    assert.equal(server.open, 1);
  });

  it('a waiting request no longer wanted leaves the queue instead of taking a channel', async () => {
    const server = fakeServer(1);
    const { slots } = slotsFor();
    const first = await slots.take(() => server.ask());
    await assert.rejects(
      slots.take(() => server.ask(), { ahead: true }),
      NotWanted,
    );
    let wanted = true;
    const waiting = slots.take(() => server.ask(), { wanted: () => wanted });
    wanted = false;
    first.emit('close');
    await assert.rejects(waiting, NotWanted);
    assert.equal(server.open, 0);
  });

  it('a refusal below the known limit (sshd has not yet freed a closed session) is asked again, not learned', async () => {
    let refuseNext = false;
    const server = fakeServer(2);
    const { slots, learned } = slotsFor();
    const a = await slots.take(() => server.ask());
    await slots.take(() => server.ask());
    await assert.rejects(
      slots.take(() => server.ask(), { ahead: true }),
      NotWanted,
    );
    a.emit('close');
    refuseNext = true;
    const third = await slots.take(() => {
      if (refuseNext) {
        refuseNext = false;
        return Promise.reject(new ChannelRefused('open failed'));
      }
      return server.ask();
    });
    assert.ok(third);
    assert.deepEqual(learned, [2], 'the limit stays 2');
  });

  it('a channel held for good (SFTP) counts from when it is asked for; when it takes the whole limit, commands need another connection', async () => {
    const server = fakeServer(1);
    const { slots, learned } = slotsFor();
    slots.hold(server.ask());
    const command = slots.take(() => server.ask());
    await assert.rejects(command, NoRoomForCommands);
    assert.deepEqual(learned, [1]);
  });

  it('a refusal before any channel has opened is the server refusing sessions: it fails as it is', async () => {
    const server = fakeServer(0);
    const { slots, learned } = slotsFor();
    await assert.rejects(
      slots.take(() => server.ask()),
      ChannelRefused,
    );
    assert.deepEqual(learned, []);
  });
});
