export * from './coordinator.ts';
export * from './sweeper.ts';
export * from './worker.ts';
