export * from './helpers.ts';
export * from './http.ts';
export * from './process.ts';
export * from './json-body.ts';
export * from './request-metrics.ts';
