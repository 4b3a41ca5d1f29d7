// Hashtag extraction for trending-hashtags: '#Serverless,' → 'serverless' (Unicode letters, digits, _).
const HASHTAG = /#([\p{L}\p{N}_]{1,100})/gu;

export function extractHashtags(text: string): string[] {
  const tags = new Set<string>();
  for (const match of text.matchAll(HASHTAG)) tags.add((match[1] as string).toLowerCase());
  return [...tags];
}
