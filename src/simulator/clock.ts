// The simulator's clock. `wall` mode follows real time plus an offset (advancing adds to the offset);
// `manual` mode stands still except when advanced, for fully deterministic runs. Every timestamp the
// simulator emits, the ±5 s auth window and the rate-limit windows all read this clock.
export type ClockMode = 'wall' | 'manual';

export class SimClock {
  private offsetMs = 0;
  private manualMs: number;

  constructor(
    readonly mode: ClockMode,
    startMs: number,
    private readonly wall: () => number = Date.now,
  ) {
    this.manualMs = startMs;
    if (mode === 'wall') this.offsetMs = startMs - wall();
  }

  now(): number {
    return this.mode === 'manual' ? this.manualMs : this.wall() + this.offsetMs;
  }

  advance(ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('clock can only move forward');
    if (this.mode === 'manual') this.manualMs += ms;
    else this.offsetMs += ms;
    return this.now();
  }

  set(ms: number): number {
    if (this.mode === 'manual') this.manualMs = ms;
    else this.offsetMs = ms - this.wall();
    return this.now();
  }
}
