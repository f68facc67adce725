import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { EntityManager } from '@mikro-orm/postgresql';
import { Authenticated, CurrentUser, MANAGERS, type Principal, Roles } from '#libs/auth/index.js';
import { Clock } from '#libs/ddd/index.js';
import { AppConfig } from '../../../config/index.js';
import { IdentityDirectory, type OrganizationProfile } from '../../identity/index.js';
import { sampleMessageData } from '../application/default-templates.js';
import { TemplateService } from '../application/template.service.js';
import {
  NotificationTemplateArgs,
  NotificationTemplateView,
  PreviewNotificationTemplateArgs,
  RenderedMessageView,
  SaveNotificationTemplateInput,
} from './templates.types.js';

/** The wording of the messages sent to customers: every staff member may read it, OWNER and ADMIN change it. */
@Resolver(() => NotificationTemplateView)
export class TemplatesResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly templates: TemplateService,
    private readonly directory: IdentityDirectory,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  @Authenticated()
  @Query(() => [NotificationTemplateView], {
    description: 'The wording of every message on every channel: the organization\'s own where it has one, else the default',
  })
  async notificationTemplates(): Promise<NotificationTemplateView[]> {
    return (await this.templates.list(this.em)).map(NotificationTemplateView.from);
  }

  @Roles(...MANAGERS)
  @Mutation(() => NotificationTemplateView, {
    description: "Save the organization's own wording of a message (OWNER or ADMIN); it must keep the required placeholders",
  })
  async saveNotificationTemplate(@Args('input') input: SaveNotificationTemplateInput): Promise<NotificationTemplateView> {
    return NotificationTemplateView.from(await this.templates.save(this.em, input));
  }

  @Roles(...MANAGERS)
  @Mutation(() => NotificationTemplateView, { description: 'Go back to the default wording of a message (OWNER or ADMIN)' })
  async resetNotificationTemplate(@Args() { kind, channel }: NotificationTemplateArgs): Promise<NotificationTemplateView> {
    return NotificationTemplateView.from(await this.templates.reset(this.em, kind, channel));
  }

  @Roles(...MANAGERS)
  @Query(() => RenderedMessageView, {
    description:
      'A message rendered with sample values, as a customer would receive it (OWNER or ADMIN). ' +
      'Give subject and body to preview unsaved edits; otherwise the wording in use is shown.',
  })
  async previewNotificationTemplate(
    @CurrentUser() principal: Principal,
    @Args() { kind, channel, subject, body }: PreviewNotificationTemplateArgs,
  ): Promise<RenderedMessageView> {
    const org = await this.organization(principal);
    const data = sampleMessageData(this.clock.now(), org.currency, this.config.http.publicUrl);
    const rendered =
      body !== undefined && body !== null
        ? this.templates.renderDraft(org, kind, channel, { subject, body }, data)
        : await this.templates.render(this.em, org, kind, channel, data);
    return RenderedMessageView.from(rendered);
  }

  private async organization(principal: Principal): Promise<OrganizationProfile> {
    const org = await this.directory.organization(this.em, principal.organizationId);
    if (!org) throw new Error(`Organization ${principal.organizationId} of a signed-in user was not found`);
    return org;
  }
}
