export * from './client.ts';
export * from './conditional.ts';
export * from './errors.ts';
export * from './migrate.ts';
