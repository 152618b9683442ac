export * from './errors.ts';
export * from './transfer-store.ts';
