/** The dashboard's routes: the page, uPlot (from the package's own dependency, never a CDN), and the live feed. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';
import type { FrontDoor } from '../../runtime/index.js';
import { DashboardFeed } from './feed.js';
import { DASHBOARD_HTML } from './page.js';

const require = createRequire(import.meta.url);

export function dashboardRoutes(app: FastifyInstance, door: FrontDoor): DashboardFeed {
  const feed = new DashboardFeed(door);
  let uplot: { js: string; css: string } | undefined;
  const assets = () => (uplot ??= { js: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'), css: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8') });
  app.get('/dashboard', async (_request, reply) => reply.type('text/html; charset=utf-8').send(DASHBOARD_HTML));
  app.get('/dashboard/uplot.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'max-age=86400').send(assets().js));
  app.get('/dashboard/uplot.css', async (_request, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'max-age=86400').send(assets().css));
  app.get('/dashboard/events', async (_request, reply) => {
    feed.attach(reply);
    return reply;
  });
  return feed;
}
