export * from './coordinator.ts';
export * from './step-processor.ts';
export * from './sweeper.ts';
export * from './sweeper-schedule.ts';
export * from './transition-publisher.ts';
export * from './worker.ts';
