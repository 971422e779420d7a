// The install-template layer's public surface: rendering, validation, password hashing, OS catalogue.

export { render, compileTemplate, type CompiledTemplate, type RenderOptions, type TemplateVars, type TemplateValue } from './render.js';
export { TemplateDir, DEFAULT_TEMPLATE_ROOT } from './template-dir.js';
export * from './value-schemas.js';
export { sha512Crypt, verifySha512Crypt, type Sha512CryptOptions } from './sha512-crypt.js';
export {
  defaultOsCatalogue,
  diskImageEntry,
  findOs,
  installTemplatesSchema,
  osCatalogueSchema,
  osEntrySchema,
  osFamilySchema,
  type OsCatalogue,
  type OsEntry,
  type OsEntryInput,
  type OsFamily,
} from './os-catalogue.js';
export {
  buildInstallPlan,
  installInputSchema,
  installParamsSchema,
  renderBootScript,
  renderInstallConfig,
  renderLocalBootScript,
  type BootScriptKind,
  type InstallConfigKind,
  type InstallInput,
  type InstallPlan,
  type InstallVars,
} from './install-plan.js';
