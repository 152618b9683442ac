export * from './client.ts';
export * from './errors.ts';
export * from './migrate.ts';
export * from './transfer-store.ts';
export { migrateAll } from './migrate-cli.ts';
