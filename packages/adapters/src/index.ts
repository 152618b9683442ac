export * from './types.ts';
export * from './http-adapter.ts';
