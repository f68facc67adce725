import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

describe('organizations, users and sessions over GraphQL', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('signs up an organization whose first user is its OWNER, and answers `me`', async () => {
    const owner = await signUpOrganization(t.gql, 'Blue Lake Recreation');
    const me = await owner.client.ok(`{ me { id email role status organization { name currency } } }`);
    expect(me.me).toMatchObject({ email: owner.email, role: 'OWNER', status: 'ACTIVE' });
    expect(me.me.organization).toEqual({ name: 'Blue Lake Recreation', currency: 'USD' });
  });

  it('logs in with email and password, and refuses a wrong password without saying which part was wrong', async () => {
    const owner = await signUpOrganization(t.gql);
    const ok = await t.gql.ok(`mutation($i: LogInInput!) { logIn(input: $i) { accessToken user { email } } }`, {
      i: { email: owner.email.toUpperCase(), password: owner.password },
    });
    expect(ok.logIn.user.email).toBe(owner.email);

    const bad = await t.gql.request(`mutation($i: LogInInput!) { logIn(input: $i) { accessToken } }`, {
      i: { email: owner.email, password: 'not the password' },
    });
    expect(bad.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(bad.errors?.[0]?.message).toBe('The email or password is incorrect');
    const unknown = await t.gql.request(`mutation($i: LogInInput!) { logIn(input: $i) { accessToken } }`, {
      i: { email: 'nobody@example.com', password: 'whatever it is' },
    });
    expect(unknown.errors?.[0]?.message).toBe('The email or password is incorrect');
  });

  it('rate-limits failed logins per account and address, and says when to try again', async () => {
    const owner = await signUpOrganization(t.gql);
    const attempt = (password: string) =>
      t.gql.request(`mutation($i: LogInInput!) { logIn(input: $i) { accessToken } }`, { i: { email: owner.email, password } });
    for (let i = 0; i < 5; i++) expect((await attempt('wrong password')).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const limited = await attempt(owner.password);
    expect(limited.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'LOGIN_RATE_LIMITED' });
    expect(limited.errors?.[0]?.extensions?.retryAfterSeconds).toBeGreaterThan(0);
  });

  it('rejects missing, malformed and refresh tokens used as access tokens', async () => {
    const owner = await signUpOrganization(t.gql);
    for (const token of [undefined, 'garbage', owner.refreshToken]) {
      const res = await t.gql.as(token).request(`{ me { id } }`);
      expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(res.data ?? null).toBeNull();
    }
  });

  it('rotates refresh tokens, and a reused one ends every session of that sign-in', async () => {
    const owner = await signUpOrganization(t.gql);
    const refresh = (token: string) =>
      t.gql.request(`mutation($i: RefreshSessionInput!) { refreshSession(input: $i) { accessToken refreshToken } }`, {
        i: { refreshToken: token },
      });
    const first = await refresh(owner.refreshToken);
    const second = first.data!.refreshSession;
    expect(second.refreshToken).not.toBe(owner.refreshToken);
    expect((await t.gql.as(second.accessToken).ok(`{ me { email } }`)).me.email).toBe(owner.email);

    const replay = await refresh(owner.refreshToken);
    expect(replay.errors?.[0]?.extensions?.reason).toBe('REFRESH_TOKEN_REUSED');
    // The legitimate newer token was revoked with its family.
    const after = await refresh(second.refreshToken);
    expect(after.errors?.[0]?.extensions?.reason).toBe('REFRESH_TOKEN_INVALID');
  });

  it('invites users with a role; the link works once; the invitee signs in with that role', async () => {
    const owner = await signUpOrganization(t.gql);
    const invited = await owner.client.ok(
      `mutation($i: InviteUserInput!) { inviteUser(input: $i) { acceptUrl invitation { email role expiresAt } } }`,
      { i: { email: 'Pat.Manager@Example.com', role: 'PAYMENT_MANAGER' } },
    );
    expect(invited.inviteUser.invitation).toMatchObject({ email: 'pat.manager@example.com', role: 'PAYMENT_MANAGER' });
    const token = new URL(invited.inviteUser.acceptUrl).searchParams.get('token')!;
    const accept = (password: string) =>
      t.gql.request(`mutation($i: AcceptInvitationInput!) { acceptInvitation(input: $i) { accessToken user { role organization { id } } } }`, {
        i: { token, name: 'Pat', password },
      });
    const joined = await accept('pat has a long password');
    expect(joined.data?.acceptInvitation.user.role).toBe('PAYMENT_MANAGER');
    const again = await accept('pat has a long password');
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVITATION_INVALID' });
    const me = await t.gql.as(joined.data!.acceptInvitation.accessToken).ok(`{ me { role organization { id } } }`);
    expect(me.me.organization.id).toBe(joined.data!.acceptInvitation.user.organization.id);
  });

  it('checks roles on every operation: STAFF and PAYMENT_MANAGER cannot invite, ADMIN cannot make an OWNER', async () => {
    const owner = await signUpOrganization(t.gql);
    const staff = await addUser(owner.client, 'STAFF');
    const manager = await addUser(owner.client, 'PAYMENT_MANAGER');
    const admin = await addUser(owner.client, 'ADMIN');
    const invite = (client: typeof staff.client, role: string) =>
      client.request(`mutation($i: InviteUserInput!) { inviteUser(input: $i) { acceptUrl } }`, {
        i: { email: `someone-${role}-${Math.random()}@example.com`, role },
      });
    for (const who of [staff, manager]) {
      const res = await invite(who.client, 'STAFF');
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'ROLE_REQUIRED' });
    }
    expect((await invite(admin.client, 'OWNER')).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await invite(admin.client, 'STAFF')).data?.inviteUser.acceptUrl).toContain('token=');
    // Everyone may read their organization's staff list.
    const list = await staff.client.ok(`{ users(first: 10) { totalCount nodes { role } } }`);
    expect(list.users.totalCount).toBe(4);
  });

  it('keeps at least one OWNER, and a disabled user is locked out at once', async () => {
    const owner = await signUpOrganization(t.gql);
    const demote = await owner.client.request(
      `mutation($i: ChangeUserRoleInput!) { changeUserRole(input: $i) { role } }`,
      { i: { userId: owner.userId, role: 'ADMIN' } },
    );
    expect(demote.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'LAST_OWNER' });

    const staff = await addUser(owner.client, 'STAFF');
    const promoted = await owner.client.ok(`mutation($i: ChangeUserRoleInput!) { changeUserRole(input: $i) { role } }`, {
      i: { userId: staff.userId, role: 'ADMIN' },
    });
    expect(promoted.changeUserRole.role).toBe('ADMIN');
    // The new role applies to the token already issued: roles are read per request, not from the token.
    expect((await staff.client.request(`{ users(first: 1) { totalCount } }`)).errors).toBeUndefined();

    await owner.client.ok(`mutation($id: ID!) { disableUser(userId: $id) { status } }`, { id: staff.userId });
    expect((await staff.client.request(`{ me { id } }`)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('answers bad input with BAD_USER_INPUT naming each field, and creates nothing', async () => {
    const res = await t.gql.request(`mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }`, {
      i: { organizationName: 'X', name: 'Someone', email: 'not-an-email', password: 'short' },
    });
    const err = res.errors?.[0];
    expect(err?.extensions?.code).toBe('BAD_USER_INPUT');
    const fields = (err?.extensions?.fields as { field: string }[]).map((f) => f.field).sort();
    expect(fields).toEqual(['email', 'organizationName', 'password']);
    const login = await t.gql.request(`mutation($i: LogInInput!) { logIn(input: $i) { accessToken } }`, {
      i: { email: 'not-an-email', password: 'short' },
    });
    expect(login.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('refuses a second account with the same email, whatever its case', async () => {
    const owner = await signUpOrganization(t.gql);
    const res = await t.gql.request(`mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }`, {
      i: { organizationName: 'Other Co', name: 'Someone', email: owner.email.toUpperCase(), password: 'long enough password' },
    });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'EMAIL_TAKEN' });
  });
});
