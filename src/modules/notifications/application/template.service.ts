import { Injectable } from '@nestjs/common';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { OrganizationProfile } from '../../identity/index.js';
import { Channel, KIND_SPECS, MessageKind, type PlaceholderToken } from '../domain/message-kind.js';
import { NotificationTemplate } from '../domain/notification-template.entity.js';
import { defaultTemplate, type TemplateText } from './default-templates.js';
import type { MessageData, RenderedMessage } from './message-data.js';
import { renderMessage, validateTemplate } from './template-renderer.js';

/** The wording in use for one message on one channel: the organization's own, or Settle's default. */
export interface EffectiveTemplate {
  kind: MessageKind;
  channel: Channel;
  /** EMAIL only. */
  subject: string | null;
  body: string;
  /** No wording of the organization's own: Settle's default is used. */
  isDefault: boolean;
  /** When the organization last saved its own wording; null for a default. */
  updatedAt: Date | null;
  requiredPlaceholders: PlaceholderToken[];
  availablePlaceholders: PlaceholderToken[];
  /** A marketing notice: not sent to customers who opted out. */
  marketing: boolean;
}

export interface SaveTemplateCommand {
  kind: MessageKind;
  channel: Channel;
  /** Required for EMAIL; must be empty for SMS. */
  subject?: string | null;
  body: string;
}

const KINDS = Object.values(MessageKind);
const CHANNELS = Object.values(Channel);

/**
 * The wording of every message: an organization may replace the default of any kind and channel with its own, which
 * must keep the kind's required placeholders and use only its available ones. Every method takes the EntityManager
 * of the caller, scoped to the organization (the `tenant` filter), so one organization never sees another's wording.
 */
@Injectable()
export class TemplateService {
  /** Renders a message with the organization's own template if it has one, else the default. */
  async render(
    em: EntityManager,
    org: OrganizationProfile,
    kind: MessageKind,
    channel: Channel,
    data: MessageData,
  ): Promise<RenderedMessage> {
    return renderMessage(await this.templateFor(em, kind, channel), kind, channel, org, data);
  }

  /**
   * Renders `data` with a template the organization has not saved (yet): the same checks as `save`, then the same
   * rendering as `render`. For previews while editing.
   */
  renderDraft(org: OrganizationProfile, kind: MessageKind, channel: Channel, draft: { subject?: string | null; body: string }, data: MessageData): RenderedMessage {
    return renderMessage(validateTemplate(kind, channel, draft), kind, channel, org, data);
  }

  /** The template `render` would use. */
  async templateFor(em: EntityManager, kind: MessageKind, channel: Channel): Promise<TemplateText> {
    const own = await em.findOne(NotificationTemplate, { kind, channel });
    return own ? { subject: channel === Channel.EMAIL ? own.subject : null, body: own.body } : defaultTemplate(kind, channel);
  }

  /** Every kind × channel, with the wording in use: the organization's own where it has one. */
  async list(em: EntityManager): Promise<EffectiveTemplate[]> {
    const own = new Map((await em.find(NotificationTemplate, {})).map((t) => [`${t.kind}:${t.channel}`, t]));
    return KINDS.flatMap((kind) => CHANNELS.map((channel) => this.effective(kind, channel, own.get(`${kind}:${channel}`))));
  }

  async get(em: EntityManager, kind: MessageKind, channel: Channel): Promise<EffectiveTemplate> {
    return this.effective(kind, channel, (await em.findOne(NotificationTemplate, { kind, channel })) ?? undefined);
  }

  /**
   * Saves the organization's own wording of a message (replacing any earlier one). Refused with a NotificationError
   * (BAD_USER_INPUT: TEMPLATE_INVALID, TEMPLATE_UNKNOWN_PLACEHOLDER or TEMPLATE_MISSING_PLACEHOLDER) before anything
   * is written, so a refused template leaves the one in use unchanged.
   */
  async save(em: EntityManager, cmd: SaveTemplateCommand): Promise<EffectiveTemplate> {
    const { kind, channel } = cmd;
    const text = validateTemplate(kind, channel, cmd);
    const write = () =>
      em.transactional(async (tx) => {
        let row = await tx.findOne(NotificationTemplate, { kind, channel });
        if (!row) {
          row = new NotificationTemplate();
          row.kind = kind;
          row.channel = channel;
          tx.persist(row);
        }
        row.subject = text.subject;
        row.body = text.body;
        return row;
      });
    let saved: NotificationTemplate;
    try {
      saved = await write();
    } catch (error) {
      // Two first saves of the same template at once: the other one inserted the row; update it instead.
      if (!(error instanceof UniqueConstraintViolationException)) throw error;
      saved = await write();
    }
    return this.effective(kind, channel, saved);
  }

  /** Drops the organization's own wording of a message: the default is used again. Returns the default. */
  async reset(em: EntityManager, kind: MessageKind, channel: Channel): Promise<EffectiveTemplate> {
    await em.transactional(async (tx) => {
      const row = await tx.findOne(NotificationTemplate, { kind, channel });
      if (row) tx.remove(row);
    });
    return this.effective(kind, channel, undefined);
  }

  private effective(kind: MessageKind, channel: Channel, own: NotificationTemplate | undefined): EffectiveTemplate {
    const spec = KIND_SPECS[kind];
    const text = own ? { subject: channel === Channel.EMAIL ? own.subject : null, body: own.body } : defaultTemplate(kind, channel);
    return {
      kind,
      channel,
      subject: text.subject,
      body: text.body,
      isDefault: !own,
      updatedAt: own?.updatedAt ?? null,
      requiredPlaceholders: [...spec.required],
      availablePlaceholders: [...spec.available],
      marketing: spec.marketing,
    };
  }
}
