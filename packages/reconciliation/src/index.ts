export * from './reconcile.ts';
export * from './rules.ts';
