export * from './client.ts';
export * from './errors.ts';
export * from './migrate.ts';
export * from './transfer-store.ts';
