import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { appendJobSummary, SUMMARY_LIMIT, setStepOutputs } from '../../src/ci/job-files';
import { githubOutput, gitlabOutput } from '../../src/ci/output';
import { ciRunner, inCi } from '../../src/ci/runner';
import { jobSummary } from '../../src/release/lifecycle/ci-report';
import type { DeployReport } from '../../src/release/lifecycle/report';
import { tempDir } from '../support/fixtures';

describe('CI runners', () => {
  it('are told apart by the variables each sets', () => {
    assert.equal(ciRunner({ CI: 'true', GITHUB_ACTIONS: 'true' }), 'github');
    assert.equal(ciRunner({ CI: 'true', GITLAB_CI: 'true' }), 'gitlab');
    assert.equal(ciRunner({ CI: '1' }), 'other');
    assert.equal(ciRunner({ CI: 'false' }), undefined);
    assert.equal(ciRunner({}), undefined);
    assert.equal(inCi({ CI: '' }), false);
  });

  it("GitHub: escapes a command's message and properties as the runner unescapes them", () => {
    const lines: string[] = [];
    const out = githubOutput((line) => lines.push(line));
    out.annotate({
      title: 'deploy: clone failed, on web1',
      message: '100% broken\nrun it again',
      file: '.attache.json',
      line: 3,
      column: 7,
    });
    assert.deepEqual(lines, [
      '::error title=deploy%3A clone failed%2C on web1,file=.attache.json,line=3,col=7::100%25 broken%0Arun it again',
    ]);
  });

  it('GitHub: one group open at a time; a group is closed before the next opens', () => {
    const lines: string[] = [];
    const out = githubOutput((line) => lines.push(line));
    out.group('clone');
    out.group('assets'); // beside clone: clone's group ends here
    out.groupEnd('clone'); // not the open one: nothing
    out.groupEnd('assets');
    assert.deepEqual(lines, ['::group::clone', '::endgroup::', '::group::assets', '::endgroup::']);
  });

  it("GitHub: a tool's lines come after a stop of commands, with a token of its own; ours resume first", () => {
    const lines: string[] = [];
    const out = githubOutput((line) => lines.push(line));
    out.toolOutput();
    out.toolOutput(); // still stopped: no second stop
    out.group('live');
    out.close();
    const token = /^::stop-commands::([0-9a-f]{32})$/.exec(lines[0])?.[1];
    assert.ok(token, lines[0]);
    assert.deepEqual(lines.slice(1), [`::${token}::`, '::group::live', '::endgroup::']);
  });

  it("GitHub: a multi-line secret (a key's text) is masked a line at a time, each once", () => {
    const lines: string[] = [];
    const out = githubOutput((line) => lines.push(line));
    out.mask('-----BEGIN KEY-----\nAAAAsecretline\n-----END KEY-----\n');
    out.mask('AAAAsecretline');
    assert.deepEqual(lines, ['::add-mask::-----BEGIN KEY-----', '::add-mask::AAAAsecretline', '::add-mask::-----END KEY-----']);
  });

  it('GitLab: collapsed sections with names GitLab accepts, each ended', () => {
    const lines: string[] = [];
    const out = gitlabOutput(
      (line) => lines.push(line),
      () => 1_700_000_000_000,
    );
    out.group('clone (web1, web2)');
    out.group('live');
    out.close();
    assert.deepEqual(lines, [
      '\x1b[0Ksection_start:1700000000:attache_1_clone_web1_web2_[collapsed=true]\r\x1b[0Kclone (web1, web2)',
      '\x1b[0Ksection_end:1700000000:attache_1_clone_web1_web2_\r\x1b[0K',
      '\x1b[0Ksection_start:1700000000:attache_2_live[collapsed=true]\r\x1b[0Klive',
      '\x1b[0Ksection_end:1700000000:attache_2_live\r\x1b[0K',
    ]);
  });

  it('the job summary stays under its limit, and the outputs take one line each', () => {
    const dir = tempDir('attache-ci-');
    const summary = path.join(dir, 'summary.md');
    const outputs = path.join(dir, 'outputs');
    writeFileSync(summary, '');
    appendJobSummary('x'.repeat(SUMMARY_LIMIT * 2), undefined, { GITHUB_STEP_SUMMARY: summary });
    assert.ok(Buffer.byteLength(readFileSync(summary)) <= SUMMARY_LIMIT);
    setStepOutputs({ release: '20261207010101', commit: undefined, note: 'two\nlines' }, { GITHUB_OUTPUT: outputs });
    assert.match(readFileSync(outputs, 'utf8'), /^release=20261207010101\nnote<<(ATTACHE_[0-9a-f]{16})\ntwo\nlines\n\1\n$/);
  });

  it('the job summary: a row per server, pipes in a cell escaped, the cause and the fix of a failure', () => {
    const report: DeployReport = {
      task: 'deploy',
      result: 'failed',
      releaseId: '20261207010101',
      startedAt: '2026-12-07T01:01:01.000Z',
      seconds: 2.5,
      servers: [
        {
          server: 'web1',
          result: 'failed',
          commit: '0123456789abcdef',
          steps: { connect: 0.2, clone: 1.1 },
          sent: { files: 2, bytes: 2048 },
          reused: { files: 0, bytes: 0 },
          liveBefore: 'releases/20261206010101',
          liveAfter: 'releases/20261206010101',
          undone: ['remove the release'],
          error: 'grep | broke',
        },
        { server: 'web2', result: 'untouched', steps: {}, sent: { files: 0, bytes: 0 }, reused: { files: 0, bytes: 0 } },
      ],
    };
    const text = jobSummary(report, { message: 'the cause', hint: 'the fix' });
    assert.match(text, /gulp-attache deploy: failed `20261207010101`/);
    assert.match(text, /\*\*Cause:\*\* the cause/);
    assert.match(text, /\*\*Fix:\*\* the fix/);
    assert.match(
      text,
      /\| web1 \| failed \| `0123456789ab` \| `releases\/20261206010101` \| releases\/20261206010101 \(unchanged\) \| 2 files/,
    );
    assert.match(text, /\| web2 \| untouched \| - \| \(not reached\) \| \(not reached\) \|/);
    assert.match(text, /web1\*\* failed: grep \\\| broke/);
    assert.match(text, /web1\*\* undone: remove the release/);
  });
});
