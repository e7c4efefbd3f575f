import { dashboardFixture, serveDashboard, adminHeader } from '../test/helpers/dashboard-fixture.js';
const f = await dashboardFixture();
const d = await serveDashboard(f.router, { authorize: () => true, refreshMs: 1000 });
console.log(d.url, JSON.stringify(f.tenants), JSON.stringify(f.jobs));
setTimeout(async () => { await d.close(); await f.cleanup(); process.exit(0); }, Number(process.env.LIFE ?? 60000));
