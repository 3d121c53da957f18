/**
 * Perl's DBI connection arguments as a driver URL, so that an Apache::Session configuration carries
 * over: `DataSource: 'dbi:mysql:database=test;host=db;port=3306'` (or `dbi:mysql:test:db`) with
 * `UserName` and `Password` → `mysql://user:password@db:3306/test`; `dbi:Pg:dbname=test;host=db` →
 * `postgres://…`. `prefix: 'Lock'` reads Perl's LockDataSource, LockUserName and LockPassword.
 * Undefined when no data source is given.
 */
export function dataSourceUrl(args: Record<string, unknown>, driver: 'mysql' | 'Pg', prefix: '' | 'Lock' = ''): string | undefined {
  const dataSource = args[`${prefix}DataSource`];
  if (dataSource === undefined) return undefined;
  const match = typeof dataSource === 'string' ? /^dbi:([A-Za-z]+):(.*)$/i.exec(dataSource) : null;
  if (!match || match[1]!.toLowerCase() !== driver.toLowerCase()) {
    throw new TypeError(`${prefix}DataSource must be a DBI data source dbi:${driver}:…, got ${JSON.stringify(dataSource)}`);
  }
  const fields = new Map<string, string>();
  if (match[2]!.includes('=')) {
    for (const pair of match[2]!.split(';')) {
      const [key, ...value] = pair.split('=');
      if (key) fields.set(key.trim().toLowerCase(), value.join('=').trim());
    }
  } else {
    // The short form: database[:host[:port]].
    const [database, host, port] = match[2]!.split(':');
    for (const [key, value] of [['database', database], ['host', host], ['port', port]] as const) if (value) fields.set(key, value);
  }
  const url = new URL(driver === 'mysql' ? 'mysql://localhost' : 'postgres://localhost');
  url.hostname = fields.get('host') ?? 'localhost';
  url.port = fields.get('port') ?? '';
  url.pathname = `/${encodeURIComponent(fields.get('database') ?? fields.get('dbname') ?? fields.get('db') ?? '')}`;
  const user = args[`${prefix}UserName`];
  const password = args[`${prefix}Password`];
  if (user !== undefined) url.username = String(user);
  if (password !== undefined) url.password = String(password);
  return url.toString();
}
