import { parseArgs } from 'node:util';
import type { MoveProgress } from '../directory/unit-move.js';
import { checkSlots } from '../directory/slot-moves.js';
import { createRouterFromFile, type Router } from '../router/router.js';
import { CopyPriority } from './copy-priority.js';
import { UsageError } from './usage-error.js';

export const PLACEMENT_USAGE = `usage: jobshard placement <command> --config <tenant-map.json> [options]

commands:
  show                       the directory: epoch, shards (slots, pins, weight, state), pins, groups, moves
  plan [--threshold N]       what a rebalance would move (a dry run: nothing changes)
  move <unit> <shard>        move a unit ('tenant' or 'tenant:group') with all its data
  move --slots <list> <shard>  move slots (e.g. 0-99,512) and every unit in them
  rebalance [--threshold N]  move slots toward the shards' weights
  drain <shard>              move everything off a shard so it can be removed
  resume                     finish or roll back moves whose mover died

options:
  --config <file>    the tenant map (JSON, shards as backend specs), as createRouterFromFile reads it
  --freeze-ms <n>    how long each unit's source stays frozen between renewals (1000-60000)
  --copy-share <x>   the share of time the copy before the freeze works (0.05-1, default 0.5)
  --copy-rate <n>    the most items the copy before the freeze writes a second (a job and its queue
                     entry are two; default: no cap besides --copy-share)
  --copy-nice <n>    the mover's CPU niceness while it copies (0-19, default 0: its own priority); 19
                     copies on spare CPU only, and the freeze runs at the starting priority again where
                     the OS lets the mover raise it back (root, or RLIMIT_NICE)
  --threshold <n>    leave shards this close (in slots) to their target alone (default 1% of the slots)`;

/**
 * The mover's niceness while it copies: see CopyPriority. 0, not 19, by default: at 19 a copy on
 * saturated cores slowed by as much as it spared the workers (bench/RESULTS.md), with no bound
 * on how long it takes, and a mover that may not raise its priority back runs its freeze at 19.
 */
const DEFAULT_COPY_NICE = 0;

function slotList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new UsageError(`--slots: '${part}' is not a slot or a range like 0-99`);
    const from = Number(m[1]),
      to = Number(m[2] ?? m[1]);
    if (to < from) throw new UsageError(`--slots: range '${part}' runs backwards`);
    for (let s = from; s <= to; s++) out.push(s);
  }
  return checkSlots(out);
}

function intOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number, got '${value}'`);
  return Number(value);
}

function progressPrinter(write: (s: string) => void, priority: CopyPriority): (p: Readonly<MoveProgress>) => void {
  let last = '';
  let lastAt = 0;
  let warned = false;
  return (p) => {
    priority.onPhase(p.phase);
    if (!priority.raised && !warned) {
      warned = true;
      write(`note: the OS refused to raise the mover's CPU priority back for the freeze; it runs at nice ${priority.nice} (see --copy-nice)\n`);
    }
    const line = `${p.phase.padEnd(11)} ${p.unit ?? ''}  units ${p.unitsDone}/${p.unitsTotal}  jobs copied ${p.jobsCopied}  items ${p.itemsCopied}  nice ${priority.nice}`;
    const now = Date.now();
    // Phase changes always; copy progress at most 4 times a second.
    if (line.split('  ')[0] !== last.split('  ')[0] || now - lastAt > 250) {
      write(`${line}\n`);
      lastAt = now;
    }
    last = line;
  };
}

async function show(router: Router, write: (s: string) => void): Promise<void> {
  const view = await router.admin.directory();
  write(`epoch ${view.epoch} (written ${new Date(view.writtenAt).toISOString()})\n\n`);
  write('shard              kind        weight  state     slots   pins\n');
  for (const s of view.shards) {
    const kind = router.shards.get(s.id)?.kind ?? '(not configured here)';
    write(
      `${s.id.padEnd(18)} ${kind.padEnd(11)} ${String(s.weight).padStart(6)}  ${s.state.padEnd(9)} ${String(s.slots).padStart(5)}  ${String(s.pins).padStart(5)}\n`,
    );
  }
  const pins = Object.entries(view.pins);
  write(`\npins: ${pins.length === 0 ? 'none' : pins.map(([u, s]) => `${u} -> ${s}`).join(', ')}\n`);
  const groups = Object.entries(view.groups).flatMap(([t, gs]) => Object.entries(gs).map(([g, qs]) => `${t}:${g} [${qs.join(', ')}]`));
  write(`queue groups: ${groups.length === 0 ? 'none' : groups.join(', ')}\n`);
  const moves = await router.admin.moves();
  write(`moves: ${moves.length === 0 ? 'none' : ''}\n`);
  for (const m of moves) write(`  ${m.unit}: ${m.from} -> ${m.to}, phase ${m.phase} since ${new Date(m.phaseAt).toISOString()}\n`);
}

/** `jobshard placement …`: argv after 'placement'. Resolves with the exit code. */
export async function placementCommand(argv: string[], write: (s: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      slots: { type: 'string' },
      'freeze-ms': { type: 'string' },
      'copy-share': { type: 'string' },
      'copy-nice': { type: 'string' },
      'copy-rate': { type: 'string' },
      threshold: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    write(`${PLACEMENT_USAGE}\n`);
    return 0;
  }
  let router: Router | undefined;
  try {
    const [command, ...rest] = positionals;
    if (command === undefined) throw new UsageError('a placement command is required');
    if (!values.config) throw new UsageError('--config <tenant-map.json> is required');
    const freezeMs = intOption('freeze-ms', values['freeze-ms']);
    const thresholdSlots = intOption('threshold', values.threshold);
    const copyNice = intOption('copy-nice', values['copy-nice']) ?? DEFAULT_COPY_NICE;
    if (copyNice > 19) throw new UsageError(`--copy-nice must be a whole number from 0 to 19, got '${values['copy-nice']}'`);
    const copyRate = intOption('copy-rate', values['copy-rate']);
    if (copyRate === 0) throw new UsageError(`--copy-rate must be a whole number of items a second, at least 1, got '0'`);
    const share = values['copy-share'];
    if (share !== undefined && !/^(0?\.\d+|1(\.0*)?)$/.test(share)) throw new UsageError(`--copy-share must be a number from 0.05 to 1, got '${share}'`);
    const expect = (n: number, what: string) => {
      if (rest.length !== n) throw new UsageError(`placement ${command} takes ${what}`);
    };
    const slots = values.slots === undefined ? undefined : slotList(values.slots);
    switch (command) {
      case 'show':
        expect(0, 'no arguments');
        break;
      case 'plan':
      case 'rebalance':
      case 'resume':
        expect(0, 'no arguments');
        break;
      case 'move':
        expect(slots ? 1 : 2, slots ? 'a target shard after --slots' : 'a unit and a target shard');
        break;
      case 'drain':
        expect(1, 'a shard');
        break;
      default:
        throw new UsageError(`unknown placement command '${command}'`);
    }
    router = await createRouterFromFile(values.config);
    const onProgress = progressPrinter(write, new CopyPriority(copyNice));
    const options = {
      ...(freezeMs !== undefined ? { freezeMs } : {}),
      ...(share !== undefined ? { copyShare: Number(share) } : {}),
      ...(copyRate !== undefined ? { copyRate } : {}),
      onProgress,
    };
    switch (command) {
      case 'show':
        await show(router, write);
        break;
      case 'plan':
      case 'rebalance': {
        const { plan, results } = await router.admin.rebalance({
          ...options,
          dryRun: command === 'plan',
          ...(thresholdSlots !== undefined ? { thresholdSlots } : {}),
        }).done;
        write(`${command === 'plan' ? 'plan' : 'rebalanced'} from epoch ${plan.epoch} (threshold ${plan.thresholdSlots} slots)\n`);
        for (const s of plan.shards) write(`  ${s.id.padEnd(18)} ${String(s.slots).padStart(5)} slots, target ${String(s.target).padStart(5)}\n`);
        if (plan.transfers.length === 0) write('nothing to move\n');
        for (const x of plan.transfers)
          write(
            `  ${x.from} -> ${x.to}: ${x.emptySlots.length} empty slots (a directory write), ${x.unitSlots.length} slots with ${x.units.length} units to copy\n`,
          );
        if (command === 'rebalance') {
          const units = results.flatMap((r) => r.units);
          write(
            `done: ${units.length} units moved, ${units.reduce((a, u) => a + u.jobs, 0)} jobs copied, longest pause ${Math.max(0, ...units.map((u) => u.pauseMs))} ms\n`,
          );
        }
        break;
      }
      case 'move': {
        if (slots) {
          const r = await router.admin.moveSlots(slots, rest[0]!, options).done;
          write(
            `done: ${r.slots} slots to ${r.to} at epoch ${r.epoch}; ${r.units.length} units moved, ${r.units.reduce((a, u) => a + u.jobs, 0)} jobs copied, longest pause ${Math.max(0, ...r.units.map((u) => u.pauseMs))} ms\n`,
          );
        } else {
          const r = await router.admin.moveUnit(rest[0]!, rest[1]!, options).done;
          write(`done: ${r.unit} moved ${r.from} -> ${r.to} at epoch ${r.epoch}; ${r.jobs} jobs, ${r.items} items copied; writes paused ${r.pauseMs} ms\n`);
        }
        break;
      }
      case 'drain': {
        const r = await router.admin.drainShard(rest[0]!, options).done;
        const units = [...r.units, ...r.rebalance.results.flatMap((x) => x.units)];
        write(
          `done: shard ${r.shard} drained; ${units.length} units moved; remove it from the directory with admin.removeShard('${r.shard}') and then from the configs\n`,
        );
        break;
      }
      case 'resume': {
        const r = await router.admin.resumeMoves();
        if (r.length === 0) write('no moves recorded\n');
        for (const m of r) write(`  ${m.unit}: ${m.from} -> ${m.to}: ${m.outcome}\n`);
        break;
      }
    }
    return 0;
  } finally {
    await router?.close();
  }
}
