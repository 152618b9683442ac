export * from './errors.ts';
export * from './transfer-store.ts';
export * from './index-layout.ts';
