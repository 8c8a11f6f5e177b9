// Install states as the UI lists them (filter menu order: the ones needing attention first).
export const STATES = ['failed', 'stalled', 'installing', 'booting', 'rebooting', 'marked', 'done', 'cancelled', 'idle'] as const;
