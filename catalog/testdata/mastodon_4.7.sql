-- Mastodon 4.7.0 at migration 20260812154114, its latest: the tables whose rows point at
-- stored files. Written from the column and index facts of that release's db/schema.rb,
-- translated to PostgreSQL types the way Rails does; not copied from Mastodon's files.
-- Conventions: every column in schema.rb's order, with its type, nullability and literal
-- default. id is a plain bigint primary key (no timestamp_id() default, no sequence: tests
-- insert explicit ids); other function defaults are dropped, except that created_at and
-- updated_at default to now() so tests can insert short rows. No foreign keys. datetime
-- columns are plain timestamp without time zone, whatever precision schema.rb names.
-- Schema only: tests insert their own rows.

CREATE TABLE accounts (
    id bigint NOT NULL PRIMARY KEY,
    actor_type character varying,
    also_known_as character varying[],
    attribution_domains character varying[] DEFAULT '{}'::character varying[],
    avatar_content_type character varying,
    avatar_description character varying DEFAULT ''::character varying NOT NULL,
    avatar_file_name character varying,
    avatar_file_size integer,
    avatar_remote_url character varying,
    avatar_storage_schema_version integer,
    avatar_updated_at timestamp without time zone,
    collections_url character varying,
    created_at timestamp without time zone DEFAULT now() NOT NULL,
    discoverable boolean,
    display_name character varying DEFAULT ''::character varying NOT NULL,
    domain character varying,
    feature_approval_policy integer DEFAULT 0 NOT NULL,
    featured_collection_url character varying,
    fields jsonb,
    followers_url character varying DEFAULT ''::character varying NOT NULL,
    following_url character varying DEFAULT ''::character varying NOT NULL,
    header_content_type character varying,
    header_description character varying DEFAULT ''::character varying NOT NULL,
    header_file_name character varying,
    header_file_size integer,
    header_remote_url character varying DEFAULT ''::character varying NOT NULL,
    header_storage_schema_version integer,
    header_updated_at timestamp without time zone,
    hide_collections boolean,
    id_scheme integer DEFAULT 1,
    inbox_url character varying DEFAULT ''::character varying NOT NULL,
    indexable boolean DEFAULT false NOT NULL,
    last_webfingered_at timestamp without time zone,
    locked boolean DEFAULT false NOT NULL,
    memorial boolean DEFAULT false NOT NULL,
    moved_to_account_id bigint,
    note text DEFAULT ''::text NOT NULL,
    outbox_url character varying DEFAULT ''::character varying NOT NULL,
    private_key text,
    protocol integer DEFAULT 0 NOT NULL,
    public_key text DEFAULT ''::text NOT NULL,
    requested_deletion_at timestamp without time zone,
    requested_review_at timestamp without time zone,
    reviewed_at timestamp without time zone,
    sensitized_at timestamp without time zone,
    shared_inbox_url character varying DEFAULT ''::character varying NOT NULL,
    show_featured boolean DEFAULT true NOT NULL,
    show_media boolean DEFAULT true NOT NULL,
    show_media_replies boolean DEFAULT true NOT NULL,
    silenced_at timestamp without time zone,
    suspended_at timestamp without time zone,
    suspension_origin integer,
    trendable boolean,
    updated_at timestamp without time zone DEFAULT now() NOT NULL,
    uri character varying,
    url character varying,
    username character varying DEFAULT ''::character varying NOT NULL
);
CREATE INDEX search_index ON accounts USING gin ((((setweight(to_tsvector('simple'::regconfig, (display_name)::text), 'A'::"char") || setweight(to_tsvector('simple'::regconfig, (username)::text), 'B'::"char")) || setweight(to_tsvector('simple'::regconfig, (COALESCE(domain, ''::character varying))::text), 'C'::"char"))));
CREATE UNIQUE INDEX index_accounts_on_username_and_domain_lower ON accounts USING btree (lower((username)::text), COALESCE(lower((domain)::text), ''::text));
CREATE INDEX index_accounts_on_domain_and_id ON accounts USING btree (domain, id);
CREATE INDEX index_accounts_on_moved_to_account_id ON accounts USING btree (moved_to_account_id) WHERE (moved_to_account_id IS NOT NULL);
CREATE UNIQUE INDEX index_accounts_on_uri ON accounts USING btree (uri);
CREATE INDEX index_accounts_on_url ON accounts USING btree (url text_pattern_ops) WHERE (url IS NOT NULL);

CREATE TABLE media_attachments (
    id bigint NOT NULL PRIMARY KEY,
    account_id bigint,
    blurhash character varying,
    created_at timestamp without time zone DEFAULT now() NOT NULL,
    description text,
    file_content_type character varying,
    file_file_name character varying,
    file_file_size integer,
    file_meta json,
    file_storage_schema_version integer,
    file_updated_at timestamp without time zone,
    processing integer,
    remote_url character varying DEFAULT ''::character varying NOT NULL,
    scheduled_status_id bigint,
    shortcode character varying,
    status_id bigint,
    thumbnail_content_type character varying,
    thumbnail_file_name character varying,
    thumbnail_file_size integer,
    thumbnail_remote_url character varying,
    thumbnail_storage_schema_version integer,
    thumbnail_updated_at timestamp without time zone,
    type integer DEFAULT 0 NOT NULL,
    updated_at timestamp without time zone DEFAULT now() NOT NULL
);
CREATE INDEX index_media_attachments_on_account_id_and_status_id ON media_attachments USING btree (account_id, status_id DESC);
CREATE INDEX index_media_attachments_on_scheduled_status_id ON media_attachments USING btree (scheduled_status_id) WHERE (scheduled_status_id IS NOT NULL);
CREATE UNIQUE INDEX index_media_attachments_on_shortcode ON media_attachments USING btree (shortcode text_pattern_ops) WHERE (shortcode IS NOT NULL);
CREATE INDEX index_media_attachments_on_status_id ON media_attachments USING btree (status_id);

CREATE TABLE custom_emojis (
    id bigint NOT NULL PRIMARY KEY,
    category_id bigint,
    created_at timestamp without time zone DEFAULT now() NOT NULL,
    disabled boolean DEFAULT false NOT NULL,
    domain character varying,
    image_content_type character varying,
    image_file_name character varying,
    image_file_size integer,
    image_remote_url character varying,
    image_storage_schema_version integer,
    image_updated_at timestamp without time zone,
    shortcode character varying DEFAULT ''::character varying NOT NULL,
    updated_at timestamp without time zone DEFAULT now() NOT NULL,
    uri character varying,
    visible_in_picker boolean DEFAULT true NOT NULL
);
CREATE UNIQUE INDEX index_custom_emojis_on_shortcode_and_domain ON custom_emojis USING btree (shortcode, domain);

CREATE TABLE preview_cards (
    id bigint NOT NULL PRIMARY KEY,
    author_account_id bigint,
    author_name character varying DEFAULT ''::character varying NOT NULL,
    author_url character varying DEFAULT ''::character varying NOT NULL,
    blurhash character varying,
    created_at timestamp without time zone DEFAULT now() NOT NULL,
    description character varying DEFAULT ''::character varying NOT NULL,
    embed_url character varying DEFAULT ''::character varying NOT NULL,
    height integer DEFAULT 0 NOT NULL,
    html text DEFAULT ''::text NOT NULL,
    image_content_type character varying,
    image_description character varying DEFAULT ''::character varying NOT NULL,
    image_file_name character varying,
    image_file_size integer,
    image_storage_schema_version integer,
    image_updated_at timestamp without time zone,
    language character varying,
    link_type integer,
    max_score double precision,
    max_score_at timestamp without time zone,
    provider_name character varying DEFAULT ''::character varying NOT NULL,
    provider_url character varying DEFAULT ''::character varying NOT NULL,
    published_at timestamp without time zone,
    title character varying DEFAULT ''::character varying NOT NULL,
    trendable boolean,
    type integer DEFAULT 0 NOT NULL,
    unverified_author_account_id bigint,
    updated_at timestamp without time zone DEFAULT now() NOT NULL,
    url character varying DEFAULT ''::character varying NOT NULL,
    width integer DEFAULT 0 NOT NULL
);
CREATE INDEX index_preview_cards_on_author_account_id ON preview_cards USING btree (author_account_id) WHERE (author_account_id IS NOT NULL);
CREATE INDEX index_preview_cards_on_unverified_author_account_id_and_id ON preview_cards USING btree (unverified_author_account_id, id) WHERE (unverified_author_account_id IS NOT NULL);
CREATE UNIQUE INDEX index_preview_cards_on_url ON preview_cards USING btree (url);

CREATE TABLE site_uploads (
    id bigint NOT NULL PRIMARY KEY,
    blurhash character varying,
    created_at timestamp without time zone DEFAULT now() NOT NULL,
    file_content_type character varying,
    file_file_name character varying,
    file_file_size integer,
    file_updated_at timestamp without time zone,
    meta json,
    updated_at timestamp without time zone DEFAULT now() NOT NULL,
    var character varying DEFAULT ''::character varying NOT NULL
);
CREATE UNIQUE INDEX index_site_uploads_on_var ON site_uploads USING btree (var);

CREATE TABLE preview_card_providers (
    id bigint NOT NULL PRIMARY KEY,
    created_at timestamp without time zone DEFAULT now() NOT NULL,
    domain character varying DEFAULT ''::character varying NOT NULL,
    icon_content_type character varying,
    icon_file_name character varying,
    icon_file_size bigint,
    icon_updated_at timestamp without time zone,
    requested_review_at timestamp without time zone,
    reviewed_at timestamp without time zone,
    trendable boolean,
    updated_at timestamp without time zone DEFAULT now() NOT NULL
);
CREATE UNIQUE INDEX index_preview_card_providers_on_domain ON preview_card_providers USING btree (domain);

CREATE TABLE backups (
    id bigint NOT NULL PRIMARY KEY,
    created_at timestamp without time zone DEFAULT now() NOT NULL,
    dump_content_type character varying,
    dump_file_name character varying,
    dump_file_size bigint,
    dump_updated_at timestamp without time zone,
    processed boolean DEFAULT false NOT NULL,
    updated_at timestamp without time zone DEFAULT now() NOT NULL,
    user_id bigint
);
CREATE INDEX index_backups_on_user_id ON backups USING btree (user_id);

-- Rails' migration ledger: the latest migration of 4.7.0 and a few before it.
CREATE TABLE schema_migrations (
    version character varying NOT NULL PRIMARY KEY
);
INSERT INTO schema_migrations (version) VALUES
    ('20260803172525'),
    ('20260804081821'),
    ('20260805130216'),
    ('20260812154114');
