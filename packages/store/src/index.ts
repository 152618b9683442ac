export * from './errors.ts';
export * from './history.ts';
export * from './transfer-store.ts';
export * from './index-layout.ts';
export * from './schema-version.ts';
