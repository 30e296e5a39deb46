/**
 * The judge room: a model grading answers on criteria (faithfulness, relevance, minimality, safety
 * or the caller's own) with verdicts forced by a JSON-schema grammar, pairwise comparisons asked in
 * both orders, ensembles of judges, and calibration against labelled sets.
 */
export { Judge, modelRunner, verdictFromScore } from './judge.js';
export { EnsembleJudge, combinePairwise, combineVerdicts, ensemble } from './ensemble.js';
export { PAIRWISE_SCHEMA, RATIONALE_MAX_LENGTH, VERDICT_SCHEMA, readPairwiseVerdict, readVerdict } from './schemas.js';
export type { RawPairwiseVerdict, RawVerdict } from './schemas.js';
export { BUILTIN_CRITERIA, DEFAULT_TEMPLATES, GENERIC_PAIRWISE_TEMPLATE, checkTemplate, renderTemplate } from './templates.js';
export { parseLabels } from './labels.js';
export { agreementStats, calibrate } from './calibrate.js';
export { averageRanks, kendallTau, pearson, spearman } from './stats.js';
export type * from './types.js';
