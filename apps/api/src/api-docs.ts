// The contract on the public port: GET /api/v1/openapi.json (the document openapi.ts generates) and the
// rendered docs at /api/docs (Swagger UI from the npm package swagger-ui-dist, served from here: no CDN, and a
// Content-Security-Policy that lets the page load nothing from elsewhere).
import { createRequire } from 'node:module';
import path from 'node:path';
import express from 'express';
import { DOCS_PATH, OPENAPI_PATH, openApiDocument } from './openapi.ts';

const swaggerUiDir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const ASSETS = ['swagger-ui.css', 'swagger-ui-bundle.js', 'favicon-32x32.png'];

// Relative URLs throughout, so the page also works behind a gateway that mounts the API under a prefix.
const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Internal Transfer API</title>
  <link rel="stylesheet" href="swagger-ui.css">
  <link rel="icon" type="image/png" href="favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="swagger-ui-bundle.js"></script>
  <script src="init.js"></script>
</body>
</html>
`;
const INIT = `window.ui = SwaggerUIBundle({ url: '../v1/openapi.json', dom_id: '#swagger-ui', deepLinking: true });\n`;
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'";

export function apiDocsRouter(): express.Router {
  const document = JSON.stringify(openApiDocument());
  const router = express.Router();
  router.get(OPENAPI_PATH, (_req, res) => {
    res.type('application/json').send(document);
  });
  router.get(DOCS_PATH, (req, res) => {
    // Express routes /api/docs and /api/docs/ alike; the page's relative URLs need the slash.
    if (!req.originalUrl.split('?')[0]!.endsWith('/')) return res.redirect(301, 'docs/');
    res.set('content-security-policy', CSP).type('html').send(PAGE);
  });
  router.get(`${DOCS_PATH}/init.js`, (_req, res) => {
    res.type('application/javascript').send(INIT);
  });
  for (const file of ASSETS) {
    router.get(`${DOCS_PATH}/${file}`, (_req, res) => res.sendFile(path.join(swaggerUiDir, file)));
  }
  return router;
}
